#include "zmq_link.hpp"

namespace aqua::zmqt {

result<std::optional<parts>> link::handshake_out() {
  auto m = session->handshake_output();
  if (!m) return m.err();
  if (!*m) return std::optional<parts>();
  parts p;
  p.push_back(bytes{static_cast<std::uint8_t>(kind::handshake)});
  p.push_back(std::move(**m));
  if (session->established()) conn->set_remote_peer(session->remote_peer());
  return std::optional<parts>(std::move(p));
}

result<void> link::handshake_in(bytes_view msg) {
  if (auto r = session->handshake_input(msg); !r) return r;
  if (session->established()) conn->set_remote_peer(session->remote_peer());
  return ok();
}

result<parts> link::seal(bytes_view frame) {
  auto chunks = session->seal(frame);
  if (!chunks) return chunks.err();
  parts p;
  p.reserve(chunks->size() + 1);
  p.push_back(bytes{static_cast<std::uint8_t>(kind::data)});
  for (auto& c : *chunks) p.push_back(std::move(c));
  return p;
}

result<bytes> link::open(const std::vector<bytes_view>& chunks, std::size_t max_frame) {
  if (chunks.empty()) return error{errc::bad_frame, "data message without chunks"};
  // A frame of max_frame bytes needs at most this many 65519-byte chunks.
  if (chunks.size() > max_frame / (secure_session::max_message - 16) + 1)
    return error{errc::frame_too_large, "data message of " + std::to_string(chunks.size()) + " chunks exceeds max_frame_bytes"};
  bytes frame;
  for (auto c : chunks) {
    if (c.size() > secure_session::max_message)
      return error{errc::frame_too_large, "noise message of " + std::to_string(c.size()) + " bytes"};
    auto plain = session->open(c);
    if (!plain) return plain.err();
    if (frame.size() + plain->size() > max_frame)  // the chunk count bounds it only to a chunk's worth above
      return error{errc::frame_too_large, "data message of more than max_frame_bytes (" + std::to_string(max_frame) + ")"};
    if (frame.empty()) frame = std::move(*plain);
    else frame.insert(frame.end(), plain->begin(), plain->end());
  }
  return frame;
}

parts reset_message() { return {bytes{static_cast<std::uint8_t>(kind::reset)}}; }

} // namespace aqua::zmqt
