#pragma once
// Private: the libp2p identify message (/ipfs/id/1.0.0, /ipfs/id/push/1.0.0),
// sans-I/O. Specified in docs/protocol/identify.md.
//
//   Identify { bytes publicKey = 1; repeated bytes listenAddrs = 2; repeated string protocols = 3;
//              bytes observedAddr = 4; string protocolVersion = 5; string agentVersion = 6;
//              bytes signedPeerRecord = 8 }
//
// On a stream the message is uvarint(length) || protobuf, at most
// identify_max_message bytes (js-libp2p's MAX_IDENTIFY_MESSAGE_SIZE). The
// responder writes one message and closes its write side.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"
#include "aqua/identity.hpp"

namespace aqua::p2p {

inline constexpr std::string_view identify_protocol_id = "/ipfs/id/1.0.0";
inline constexpr std::string_view identify_push_protocol_id = "/ipfs/id/push/1.0.0";
inline constexpr std::string_view ping_protocol_id = "/ipfs/ping/1.0.0";
inline constexpr std::size_t identify_max_message = 8 * 1024;
// Entries kept per repeated field; further ones are skipped.
inline constexpr std::size_t identify_max_entries = 64;

struct identify_info {
  std::optional<std::string> protocol_version;
  std::optional<std::string> agent_version;
  bytes public_key;                // libp2p PublicKey protobuf; empty = absent
  std::vector<bytes> listen_addrs; // binary multiaddrs, undecoded
  bytes observed_addr;             // binary multiaddr; empty = absent
  std::vector<std::string> protocols;
  bytes signed_peer_record;        // empty = absent (never sent by aqua)
  bool operator==(const identify_info&) const = default;
};

// Canonical encoding: fields in number order, absent ones omitted.
bytes encode_identify(const identify_info& m);
// bad_frame: malformed protobuf or a known field with the wrong wire type;
// frame_too_large above identify_max_message. Unknown fields are skipped;
// for singular fields the last value wins (protobuf rules).
result<identify_info> decode_identify(bytes_view in);

// The public key's peer: bad_frame when absent; the errors of
// decode_libp2p_public_key for other key types.
result<peer_id> identify_peer(const identify_info& m);

} // namespace aqua::p2p
