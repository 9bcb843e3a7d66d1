#pragma once
// Private: the yamux frame header (hashicorp/yamux spec.md, /yamux/1.0.0 in
// libp2p; docs/protocol/yamux.md). Every frame starts with 12 bytes,
// big-endian:
//
//   version u8 (0) | type u8 | flags u16 | stream id u32 | length u32
//
// Data frames carry `length` payload bytes after the header; for the other
// types `length` is the value (window delta, ping opaque, GoAway code).

#include <cstddef>
#include <cstdint>
#include <string>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"

namespace aqua::p2p {

inline constexpr std::uint8_t yamux_version = 0;
inline constexpr std::size_t yamux_header_size = 12;
// Every stream starts with this receive window in both directions (the
// spec's 256 KiB); more is granted with window updates.
inline constexpr std::uint32_t yamux_default_window = 256 * 1024;

enum class yamux_type : std::uint8_t { data = 0, window_update = 1, ping = 2, go_away = 3 };

namespace yamux_flag {
inline constexpr std::uint16_t syn = 0x1;
inline constexpr std::uint16_t ack = 0x2;
inline constexpr std::uint16_t fin = 0x4;
inline constexpr std::uint16_t rst = 0x8;
} // namespace yamux_flag

namespace yamux_go_away {
inline constexpr std::uint32_t normal = 0;
inline constexpr std::uint32_t protocol_error = 1;
inline constexpr std::uint32_t internal_error = 2;
} // namespace yamux_go_away

struct yamux_header {
  std::uint8_t version = yamux_version;
  yamux_type type = yamux_type::data;
  std::uint16_t flags = 0;
  std::uint32_t stream_id = 0;
  std::uint32_t length = 0;

  bool has(std::uint16_t flag) const noexcept { return (flags & flag) != 0; }
};

// Appends the 12-byte header.
void encode_yamux_header(bytes& out, const yamux_header& h);
// Appends a whole frame: the header (length = payload size) and the payload.
void encode_yamux_data(bytes& out, std::uint16_t flags, std::uint32_t stream_id, bytes_view payload);

// Decodes the first 12 bytes of `in` (invalid_argument if fewer). bad_frame
// if the version is not 0 or the type is not one of the four.
result<yamux_header> decode_yamux_header(bytes_view in);

// "data(syn|fin) stream=3 length=10", for error messages and logs.
std::string describe(const yamux_header& h);

} // namespace aqua::p2p
