#include "p2p/noise_transport.hpp"

#include <string>

namespace aqua::p2p {

error noise_transport::kill(error e) {
  if (!dead_) dead_ = e;
  return e;
}

error noise_transport::closed() const {
  return error{errc::connection_closed, "noise transport is dead after an earlier failure: " + dead_->what()};
}

result<void> noise_transport::encrypt_to(bytes_view plaintext, bytes& out) {
  if (dead_) return closed();
  if (plaintext.size() > max_plaintext)
    return error{errc::frame_too_large, "noise: plaintext of " + std::to_string(plaintext.size()) +
                                            " bytes exceeds the 65519-byte limit of one transport message"};
  const auto at = out.size();
  auto r = send_.encrypt_with_ad({}, plaintext, out);
  if (!r) {
    out.resize(at);
    return kill(r.err());
  }
  return ok();
}

result<bytes> noise_transport::encrypt(bytes_view plaintext) {
  bytes out;
  out.reserve(plaintext.size() + noise_detail::tag_size);
  auto r = encrypt_to(plaintext, out);
  if (!r) return r.err();
  return out;
}

result<bytes> noise_transport::decrypt(bytes_view ciphertext) {
  if (dead_) return closed();
  if (ciphertext.size() > noise_detail::max_message_size)
    return kill(error{errc::frame_too_large, "noise: transport message of " + std::to_string(ciphertext.size()) +
                                                 " bytes exceeds 65535 bytes"});
  auto p = recv_.decrypt_with_ad({}, ciphertext);
  if (!p) return kill(std::move(p).err());
  return p;
}

} // namespace aqua::p2p
