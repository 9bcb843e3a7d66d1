#include "p2p/yamux_frame.hpp"

#include "core/codec.hpp"

namespace aqua::p2p {

void encode_yamux_header(bytes& out, const yamux_header& h) {
  out.push_back(h.version);
  out.push_back(static_cast<std::uint8_t>(h.type));
  codec::put_u16(out, h.flags);
  codec::put_u32(out, h.stream_id);
  codec::put_u32(out, h.length);
}

void encode_yamux_data(bytes& out, std::uint16_t flags, std::uint32_t stream_id, bytes_view payload) {
  encode_yamux_header(out, {yamux_version, yamux_type::data, flags, stream_id,
                            static_cast<std::uint32_t>(payload.size())});
  codec::put_bytes(out, payload);
}

result<yamux_header> decode_yamux_header(bytes_view in) {
  codec::reader r(in);
  yamux_header h;
  std::uint8_t type = 0;
  if (!r.u8(h.version) || !r.u8(type) || !r.u16(h.flags) || !r.u32(h.stream_id) || !r.u32(h.length))
    return error(errc::invalid_argument, "yamux: a header needs 12 bytes, got " + std::to_string(in.size()));
  if (h.version != yamux_version)
    return error(errc::bad_frame, "yamux: unsupported version " + std::to_string(h.version) + " (expected 0)");
  if (type > static_cast<std::uint8_t>(yamux_type::go_away))
    return error(errc::bad_frame, "yamux: unknown frame type " + std::to_string(type));
  h.type = static_cast<yamux_type>(type);
  return h;
}

std::string describe(const yamux_header& h) {
  static const char* const names[] = {"data", "window_update", "ping", "go_away"};
  std::string out = names[static_cast<std::uint8_t>(h.type) & 3];
  std::string flags;
  static const char* const flag_names[] = {"syn", "ack", "fin", "rst"};
  for (int i = 0; i < 4; ++i)
    if (h.flags & (1u << i)) flags += (flags.empty() ? "" : "|") + std::string(flag_names[i]);
  if (h.flags & 0xfff0u) flags += (flags.empty() ? "" : "|") + std::string("unknown");
  if (!flags.empty()) out += "(" + flags + ")";
  return out + " stream=" + std::to_string(h.stream_id) + " length=" + std::to_string(h.length);
}

} // namespace aqua::p2p
