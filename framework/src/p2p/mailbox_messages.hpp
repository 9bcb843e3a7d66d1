#pragma once
// Private: /aqua/mailbox/1.0.0 messages (docs/protocol/mailbox.md) and
// their stream framing. Sans-I/O: bytes in, structs out, and back.
//
//   MailboxMessage { type=1 (DEPOSIT=0 STATUS=1 FETCH=2 MAIL=3 ACK=4);
//                    bytes recipient=2; bytes envelope=3; uint32 ttl_s=4;
//                    uint32 status=5; string text=6; repeated Mail mail=7;
//                    repeated uint64 ids=8 (packed) }
//   Mail           { uint64 id=1; bytes envelope=2; bytes depositor=3 }
//
// On a stream each message is uvarint(length) || protobuf, at most
// max_message_size bytes; relay::delimited_reader reassembles them. Decoding
// is strict: `type` required, unknown type values, wrong wire types, a
// singular field that occurs twice, truncation, and the per-type rules
// (DEPOSIT needs recipient + envelope, MAIL 1..max_mail_per_message items
// with id > 0, an envelope and a depositor of at most max_depositor bytes, ACK 1..max_ack_ids ids > 0, STATUS a status)
// fail with errc::bad_frame; unknown fields are skipped. Input above
// max_message_size gives errc::frame_too_large.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"

namespace aqua::p2p::mailbox {

inline constexpr std::string_view protocol_id = "/aqua/mailbox/1.0.0";
// Largest envelope a mailbox holds (the zmq / relay_v2 frame limit).
inline constexpr std::size_t max_envelope_size = 4u << 20;
// Largest message (without its length prefix): one maximal envelope plus headroom.
inline constexpr std::size_t max_message_size = max_envelope_size + (64u << 10);
inline constexpr std::size_t max_mail_per_message = 64;
// A relay keeps at most this much mail sent on a fetch stream and not yet acknowledged (one envelope larger than
// window_bytes goes alone); a client may reset a stream that goes past it.
inline constexpr std::size_t window_messages = 64;
inline constexpr std::size_t window_bytes = 8u << 20;
inline constexpr std::size_t max_ack_ids = 1024;
inline constexpr std::size_t max_status_text = 256;
inline constexpr std::size_t max_depositor = 64;  // Mail.depositor: a peer ID multihash (38 bytes for Ed25519)

enum class status : std::uint32_t {
  unused = 0,
  ok = 100,
  refused = 200,              // this relay holds no mail (for that recipient, or from this peer)
  quota_exceeded = 201,       // per-recipient messages/bytes or the relay's total
  too_large = 202,            // envelope above the relay's limit
  expired = 203,              // the envelope (or the asked TTL) has already run out
  bad_envelope = 204,         // not an envelope for `recipient`
  malformed_message = 400,
  unexpected_message = 401,
  internal_error = 500,       // could not be stored now (disk); try later
};
// "OK", "QUOTA_EXCEEDED", ...; "UNKNOWN(<n>)" otherwise.
std::string to_string(status s);
// The errc a depositor reports for a status (ok for OK).
result<void> to_result(status s, std::string_view text);

struct mail_item {
  std::uint64_t id = 0;  // chosen by the relay, > 0
  bytes envelope;
  // The peer that deposited it, as the relay authenticated it (peer ID
  // multihash; empty = not known, e.g. a relay older than this field). A
  // hint for finding the envelope's session, never trusted beyond that.
  bytes depositor;
  bool operator==(const mail_item&) const = default;
};

struct message {
  enum class kind : std::uint32_t { deposit = 0, status = 1, fetch = 2, mail = 3, ack = 4 };
  kind type = kind::deposit;  // always encoded, also DEPOSIT = 0
  bytes recipient;            // DEPOSIT: peer ID multihash (empty = absent)
  bytes envelope;             // DEPOSIT (empty = absent)
  std::optional<std::uint32_t> ttl_s;  // DEPOSIT: 0 or absent = the relay's maximum
  std::optional<mailbox::status> status;  // STATUS
  std::string text;           // STATUS: reason, informative (empty = absent)
  std::vector<mail_item> mail;  // MAIL
  std::vector<std::uint64_t> ids;  // ACK
  bool operator==(const message&) const = default;
};

std::string_view to_string(message::kind k);

// Canonical encoding: fields in number order, type always present, ids packed.
bytes encode(const message& m);
result<message> decode(bytes_view in);

// Builders.
message deposit(bytes recipient, bytes envelope, std::uint32_t ttl_s);
message status_message(status s, std::string text = {});
message fetch();
message mail(std::vector<mail_item> items);
message ack(std::vector<std::uint64_t> ids);

// uvarint(length) || encode(m); frame_too_large above max_message_size.
result<bytes> frame(const message& m);
// Encoded size of one MAIL item with an envelope of `n` bytes and a
// depositor of `depositor` bytes, minus `n` (for batching).
std::size_t mail_item_overhead(std::size_t n, std::size_t depositor = 0);

} // namespace aqua::p2p::mailbox
