#pragma once
// Private: a Noise transport (the two CipherStates after the handshake),
// sans-I/O. One call = one Noise transport message, without framing: the
// caller adds the 2-byte length prefix on byte streams (noise_stream does),
// or sends each message as one message on message transports (ZeroMQ).
//
// Failure is final: after a failed decrypt (errc::decrypt_failed), a message
// over 65535 bytes or nonce exhaustion, every later encrypt() and decrypt()
// fails with errc::connection_closed. The receive nonce is not advanced by a
// failed decrypt, but nothing may be retried on the same transport: the
// connection is considered dead (the peer or the path is misbehaving, and
// continuing would let an attacker probe or desynchronise the nonces).
// Only a plaintext that is too large is refused without killing it.

#include <cstdint>
#include <optional>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"
#include "p2p/noise_core.hpp"

namespace aqua::p2p {

class noise_transport {
 public:
  // Largest plaintext of one transport message: 65535 - 16 (the tag).
  static constexpr std::size_t max_plaintext = noise_detail::max_message_size - noise_detail::tag_size;

  // `send` encrypts our messages, `receive` decrypts the peer's.
  noise_transport(noise_detail::cipher_state send, noise_detail::cipher_state receive)
      : send_(std::move(send)), recv_(std::move(receive)) {}

  // One transport message (ciphertext || tag). frame_too_large if the
  // plaintext exceeds max_plaintext (the transport stays usable).
  result<bytes> encrypt(bytes_view plaintext);
  // The same, appended to `out`; on failure `out` is left as it was.
  result<void> encrypt_to(bytes_view plaintext, bytes& out);
  // The plaintext of the peer's next transport message.
  result<bytes> decrypt(bytes_view ciphertext);

  bool dead() const noexcept { return dead_.has_value(); }
  // Messages encrypted / decrypted so far (the next nonces).
  std::uint64_t sent() const noexcept { return send_.nonce(); }
  std::uint64_t received() const noexcept { return recv_.nonce(); }

 private:
  error kill(error e);
  error closed() const;

  noise_detail::cipher_state send_;
  noise_detail::cipher_state recv_;
  std::optional<error> dead_;
};

} // namespace aqua::p2p
