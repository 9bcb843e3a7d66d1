#pragma once
// Private: libp2p /noise over a byte stream (TCP), sans-I/O. Every Noise
// message, handshake or transport, goes on the wire as a 2-byte big-endian
// length followed by the message (at most 65535 bytes).
//
//   noise_stream s = noise_stream::initiator(identity, env, expected_peer);
//   loop: write s.take_output() to the socket;
//         s.on_data(bytes read from the socket)   // error: close the socket
//         while (auto p = s.next_plaintext()) ... // once s.established()
//         s.send(plaintext)                       // queued until established
//
// The plaintext is a byte stream: chunk boundaries are those of the
// sender's transport messages and carry no meaning. Empty transport messages
// are accepted and yield nothing.
//
// Bounded buffering: at most max_buffered bytes of input (a partial frame
// plus decrypted plaintext not yet taken) are held. on_data() refuses input
// that would exceed it with errc::would_block and consumes none of it; the
// caller takes plaintext (or stops reading the socket) and retries. Feeding
// socket-sized reads (<= 64 KiB) always makes progress once the plaintext is
// drained. send() before establishment queues at most max_buffered bytes.
// Output (take_output) is not bounded: the caller drains it.
//
// Every other error is final (the handshake or the transport failed, see
// noise_handshake.hpp and noise_transport.hpp): the stream is dead and every
// later call returns the same error. Handshake timeouts are the caller's.

#include <deque>
#include <optional>

#include "p2p/noise_handshake.hpp"
#include "p2p/noise_transport.hpp"

namespace aqua::p2p {

class noise_stream {
 public:
  static constexpr std::size_t max_buffered = std::size_t{1} << 20;
  static constexpr std::size_t length_prefix_size = 2;

  static noise_stream initiator(const keypair& identity, env& e, std::optional<peer_id> expected_remote = {});
  static noise_stream responder(const keypair& identity, env& e);
  // Takes over a fresh handshake; the initiator's first message is queued at once.
  explicit noise_stream(noise_handshake hs);

  // Raw bytes received from the socket, in any split.
  result<void> on_data(bytes_view in);
  // Length-prefixed bytes to write to the socket (and forget).
  bytes take_output();
  bool has_output() const noexcept { return !out_.empty(); }
  // The next decrypted plaintext chunk, if any.
  std::optional<bytes> next_plaintext();
  // Encrypts `plaintext` as transport messages of at most 65519 bytes each.
  result<void> send(bytes_view plaintext);

  bool established() const noexcept { return tx_.has_value() && !error_; }
  bool failed() const noexcept { return error_.has_value(); }
  // Verified remote identity; empty until known (see noise_handshake::remote_peer).
  const peer_id& remote_peer() const noexcept { return hs_ ? hs_->remote_peer() : remote_; }
  // Input held: partial frame + plaintext not yet taken.
  std::size_t buffered() const noexcept { return in_.size() + plain_bytes_; }

 private:
  result<void> advance();
  result<void> on_frame(bytes_view body);
  result<void> encrypt_frames(bytes_view plaintext);
  error fail(error e);

  std::optional<noise_handshake> hs_;
  std::optional<noise_transport> tx_;
  peer_id remote_;
  bytes in_;
  std::deque<bytes> plain_;
  std::size_t plain_bytes_ = 0;
  bytes out_;
  bytes pending_;  // send() before establishment
  std::optional<error> error_;
};

} // namespace aqua::p2p
