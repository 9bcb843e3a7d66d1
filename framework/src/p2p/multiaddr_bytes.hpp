#pragma once
// Private: the binary multiaddr format (multiformats/multiaddr) that libp2p
// puts on the wire (relay v2 Peer.addrs and Reservation.addrs, identify, ...):
//   component = uvarint(protocol code) || value
//   value     = fixed-size bytes | uvarint(length) || bytes | nothing
// Protocol codes and value sizes follow the multicodec table as go-multiaddr
// and js @multiformats/multiaddr use them (ip4 = 4 bytes, tcp/udp = 2 bytes
// big-endian, p2p = uvarint length || multihash, p2p-circuit = no value, ...).
//
// Decoding is strict and bounds-checked: a code this table does not know
// cannot be skipped (its value size is unknown), so it is rejected with
// errc::bad_address naming the code and the byte offset. Known protocols
// without a text form here (onion, garlic, unix, http-path, ...) still decode
// and re-encode byte for byte; only their text conversion fails.
//
// /memory/<name>: js-libp2p encodes the value as a length-prefixed UTF-8
// string, go-multiaddr as an 8-byte big-endian uint64. aqua's names are
// strings, so we follow js; see docs/protocol/relay-v2.md.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"
#include "aqua/multiaddr.hpp"

namespace aqua::p2p {

// Largest binary multiaddr we decode or produce (fits a relay v2 message).
inline constexpr std::size_t max_multiaddr_bytes = 1024;

namespace ma_code {
inline constexpr std::uint32_t ip4 = 4, tcp = 6, dccp = 33, ip6 = 41, ip6zone = 42, ipcidr = 43, dns = 53,
                               dns4 = 54, dns6 = 55, dnsaddr = 56, sctp = 132, udp = 273, webrtc_direct = 280,
                               webrtc = 281, p2p_circuit = 290, udt = 301, utp = 302, unix_path = 400, p2p = 421,
                               https = 443, onion = 444, onion3 = 445, garlic64 = 446, garlic32 = 447, tls = 448,
                               sni = 449, noise = 454, quic = 460, quic_v1 = 461, webtransport = 465,
                               certhash = 466, ws = 477, wss = 478, http = 480, http_path = 481, memory = 777;
} // namespace ma_code

// One component: its protocol code and its binary value (without the length
// prefix for variable-size protocols; empty for valueless ones).
struct ma_component {
  std::uint32_t code = 0;
  bytes value;
  bool operator==(const ma_component&) const = default;
};

// The protocol's text name ("ip4", "p2p-circuit", ...), or empty if unknown.
std::string_view ma_protocol_name(std::uint32_t code);

// Binary <-> components. decode_multiaddr rejects empty input, unknown codes,
// truncated or oversized values and malformed values (e.g. a p2p value that
// is not a multihash, a DNS name containing '/').
result<std::vector<ma_component>> decode_multiaddr(bytes_view in);
// Writes components as decode_multiaddr returns them (fixed-size values are
// not checked; a code missing from the table is written length-prefixed).
bytes encode_multiaddr(const std::vector<ma_component>& parts);

// Text <-> binary, e.g. "/ip4/127.0.0.1/tcp/4001" <-> 04 7f000001 06 0fa1.
// p2p values are base58btc multihashes (any hash, not only Ed25519 identity
// multihashes; "ipfs" is accepted as an alias), certhash values are
// multibase base64url ('u'), ip6 is printed in RFC 5952 form.
result<bytes> multiaddr_from_text(std::string_view text);
result<std::string> multiaddr_to_text(bytes_view in);

// The public aqua::multiaddr <-> binary. from_bytes fails with bad_address
// for protocols aqua::multiaddr does not model (quic-v1, ws, ...).
result<bytes> multiaddr_to_bytes(const multiaddr& addr);
result<multiaddr> multiaddr_from_bytes(bytes_view in);

} // namespace aqua::p2p
