#pragma once
// Private: libp2p circuit relay v2 messages (libp2p/specs relay/circuit-v2.md)
// and their stream framing. Sans-I/O: bytes in, structs out, and back.
//
//   HopMessage  { type=1 (RESERVE=0 CONNECT=1 STATUS=2); peer=2; reservation=3; limit=4; status=5 }
//   StopMessage { type=1 (CONNECT=0 STATUS=1); peer=2; limit=3; status=4 }
//   Peer        { bytes id=1; repeated bytes addrs=2 }
//   Reservation { uint64 expire=1 (unix s); repeated bytes addrs=2; bytes voucher=3 }
//   Limit       { uint32 duration=1 (s); uint64 data=2 (bytes per direction) }
//
// On a stream each message is uvarint(length) || protobuf, at most
// max_message_size bytes (go-libp2p's bound). Decoding follows protobuf
// rules (unknown fields skipped, repeated embedded messages merged, last
// scalar wins) but requires `type`, rejects unknown type values and wrong
// wire types with errc::bad_frame. Addresses stay raw bytes here: decode
// them with p2p/multiaddr_bytes.hpp and skip the ones that fail, as go does.
// Format notes and quirks: docs/protocol/relay-v2.md.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"
#include "aqua/identity.hpp"

namespace aqua::p2p::relay {

inline constexpr std::string_view hop_protocol_id = "/libp2p/circuit/relay/0.2.0/hop";
inline constexpr std::string_view stop_protocol_id = "/libp2p/circuit/relay/0.2.0/stop";
// Largest message (without its length prefix) we read or write: go-libp2p's maxMessageSize.
inline constexpr std::size_t max_message_size = 4096;

// Status codes. Values outside this list survive decoding unchanged.
enum class status : std::uint32_t {
  unused = 0,
  ok = 100,
  reservation_refused = 200,
  resource_limit_exceeded = 201,
  permission_denied = 202,
  connection_failed = 203,
  no_reservation = 204,
  malformed_message = 400,
  unexpected_message = 401,
};
// "OK", "NO_RESERVATION", ... as in the spec; "UNKNOWN(<n>)" otherwise.
std::string to_string(status s);

struct peer_info {
  bytes id;                  // peer ID multihash bytes as sent (any key type)
  std::vector<bytes> addrs;  // binary multiaddrs
  bool operator==(const peer_info&) const = default;
};

struct reservation {
  std::uint64_t expire = 0;  // unix seconds (UTC)
  std::vector<bytes> addrs;  // relay addrs incl. /p2p/<relay>, without /p2p-circuit
  bytes voucher;             // signed envelope, see p2p/signed_envelope.hpp; empty = none
  bool operator==(const reservation&) const = default;
};

struct limit {
  std::optional<std::uint32_t> duration;  // as on the wire: seconds per spec (what we send); 0 = none
  std::optional<std::uint64_t> data;      // bytes per direction; 0 = none
  bool operator==(const limit&) const = default;
  // The duration a peer most likely meant, in seconds (0 = no limit).
  // js-libp2p relays (<= 2.x, circuit-relay-v2 server) send milliseconds
  // (default 120000 for 2 min), so a raw value that is a non-zero multiple
  // of 1000 or larger than one day (86400) is read as milliseconds and
  // rounded up to whole seconds. Misreading a seconds value this way only
  // ever shortens the limit, which is the safe direction.
  std::uint32_t duration_seconds() const;
};

struct hop_message {
  enum class kind : std::uint32_t { reserve = 0, connect = 1, status = 2 };
  kind type = kind::reserve;  // always encoded, also RESERVE = 0 (proto2 peers require it)
  std::optional<peer_info> peer;
  std::optional<relay::reservation> reservation;
  std::optional<relay::limit> limit;
  std::optional<relay::status> status;
  bool operator==(const hop_message&) const = default;
};

struct stop_message {
  enum class kind : std::uint32_t { connect = 0, status = 1 };
  kind type = kind::connect;  // always encoded
  std::optional<peer_info> peer;
  std::optional<relay::limit> limit;
  std::optional<relay::status> status;
  bool operator==(const stop_message&) const = default;
};

std::string_view to_string(hop_message::kind k);
std::string_view to_string(stop_message::kind k);

// Canonical encoding: fields in number order, type always present.
bytes encode(const hop_message& m);
bytes encode(const stop_message& m);
// errc::bad_frame with the message and field named; errc::frame_too_large
// above max_message_size.
result<hop_message> decode_hop(bytes_view in);
result<stop_message> decode_stop(bytes_view in);

// Builders for the messages the protocol sends.
hop_message hop_reserve();
hop_message hop_connect(const peer_id& target);
hop_message hop_status(relay::status s, std::optional<relay::limit> l = std::nullopt,
                       std::optional<relay::reservation> r = std::nullopt);
stop_message stop_connect(const peer_id& source, std::optional<relay::limit> l = std::nullopt);
stop_message stop_status(relay::status s);

// The peer's ID as an aqua peer_id (Ed25519 only): bad_frame when absent.
result<peer_id> peer_of(const std::optional<peer_info>& p);

// uvarint(length) || message; frame_too_large above `max`.
result<bytes> frame(bytes_view message, std::size_t max = max_message_size);

// Reassembles length-prefixed messages from stream bytes:
//   reader.feed(chunk);
//   for (;;) {
//     auto m = reader.next();
//     if (!m) return m.err();   // malformed or oversized: answer MALFORMED_MESSAGE
//     if (!*m) break;           // need more bytes
//     handle(**m);
//   }
// Errors are sticky (bad_frame: length prefix longer than 10 bytes;
// frame_too_large: announced length above the bound, reported as soon as
// the prefix is complete). After the handshake the stream carries relayed
// data: take_rest() returns what was fed beyond the last message, and
// wanted() says how many bytes can be read without passing the end of the
// current message (1 while the prefix is incomplete) for callers that must
// not over-read, as go-libp2p's unbuffered DelimitedReader does.
class delimited_reader {
 public:
  explicit delimited_reader(std::size_t max = max_message_size) : max_(max) {}
  void feed(bytes_view data);
  // value: the next message, or nullopt when more bytes are needed.
  result<std::optional<bytes>> next();
  std::size_t wanted() const;
  std::size_t buffered() const { return buf_.size() - pos_; }
  bytes take_rest();

 private:
  bytes buf_;
  std::size_t pos_ = 0;
  std::size_t max_;
  std::optional<error> failed_;
};

} // namespace aqua::p2p::relay
