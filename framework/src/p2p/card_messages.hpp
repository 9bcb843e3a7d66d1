#pragma once
// Private: /aqua/card/1.0.0 messages (docs/protocol/card-directory.md) and
// their stream framing. Sans-I/O: bytes in, structs out, and back.
//
//   CardMessage { type=1 (PUBLISH=0 LOOKUP=1 CARD=2 STATUS=3);
//                 bytes card=2; bytes peer=3; uint32 status=4; string text=5 }
//
// On a stream each message is uvarint(length) || protobuf, at most
// max_message_size bytes. Decoding is strict: `type` required, unknown type
// values, wrong wire types, a field that occurs twice, truncation and the
// per-type rules (PUBLISH and CARD need a card of 1..max_card_size bytes,
// LOOKUP a peer of 1..max_peer_size bytes, STATUS a status, text at most
// max_status_text bytes) fail with errc::bad_frame; unknown fields are
// skipped. Input above max_message_size gives errc::frame_too_large. The
// card itself is not parsed here (e2ee/card.hpp does, with its signature).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"

namespace aqua::p2p::cards {

inline constexpr std::string_view protocol_id = "/aqua/card/1.0.0";
inline constexpr std::size_t max_card_size = 32u << 10;        // an encoded signed card (cards.md bounds: ~10 KiB)
inline constexpr std::size_t max_message_size = max_card_size + 1024;
inline constexpr std::size_t max_peer_size = 64;               // a peer ID multihash (38 bytes for Ed25519)
inline constexpr std::size_t max_status_text = 256;

enum class status : std::uint32_t {
  unused = 0,
  ok = 100,
  refused = 200,             // this relay keeps no card for this peer (PUBLISH without a reservation)
  quota_exceeded = 201,      // the directory is full
  not_found = 210,           // LOOKUP: no card (or only an expired one) for that peer
  bad_card = 211,            // PUBLISH: not a valid signed card of the publishing peer
  stale_card = 212,          // PUBLISH: older than the card the relay holds for that peer
  malformed_message = 400,
  unexpected_message = 401,
  internal_error = 500,      // could not be stored now (disk); try later
};
// "OK", "NOT_FOUND", ...; "UNKNOWN(<n>)" otherwise.
std::string to_string(status s);
// The errc a client reports for a status other than OK (not_found, quota_exceeded, ...).
error to_error(status s, std::string_view text);

struct message {
  enum class kind : std::uint32_t { publish = 0, lookup = 1, card = 2, status = 3 };
  kind type = kind::publish;           // always encoded, also PUBLISH = 0
  bytes card;                          // PUBLISH, CARD: the encoded signed card
  bytes peer;                          // LOOKUP: the peer ID multihash
  std::optional<cards::status> status; // STATUS
  std::string text;                    // STATUS: reason, informative
  bool operator==(const message&) const = default;
};

std::string_view to_string(message::kind k);

bytes encode(const message& m);
result<message> decode(bytes_view in);

message publish(bytes card);
message lookup(bytes peer);
message card_message(bytes card);
message status_message(status s, std::string text = {});

// uvarint(length) || encode(m); frame_too_large above max_message_size.
result<bytes> frame(const message& m);

} // namespace aqua::p2p::cards
