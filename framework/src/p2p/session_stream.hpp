#pragma once
// Private: libp2p /noise over a byte stream, driven through an
// aqua::secure_session (transport.hpp, ABI 2) — so a transport plugin can
// speak libp2p with the node's identity without holding its key — or
// through a key pair (keypair_sessions). Same wire format and contract as
// noise_stream.hpp: each Noise message is a 2-byte big-endian length ||
// message; at most max_buffered bytes of input are held (would_block
// beyond, nothing consumed); send() before establishment is queued (same
// bound); every other error is final.

#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "aqua/env.hpp"
#include "aqua/transport.hpp"
#include "identity/keypair.hpp"

namespace aqua::p2p {

// Makes one Noise XX session: initiator (with the expected remote, if
// known) or responder.
using session_factory = std::function<std::unique_ptr<secure_session>(bool initiator, std::optional<peer_id> expected)>;

// Sessions bound to `identity`, randomness from `e`; both must outlive the factory's sessions.
session_factory keypair_sessions(const keypair& identity, env& e);

class session_stream {
 public:
  static constexpr std::size_t max_buffered = std::size_t{1} << 20;

  // Takes over a fresh session; the initiator's first message is queued at once.
  explicit session_stream(std::unique_ptr<secure_session> s);

  result<void> on_data(bytes_view in);
  bytes take_output();
  bool has_output() const noexcept { return !out_.empty(); }
  std::optional<bytes> next_plaintext();
  result<void> send(bytes_view plaintext);

  bool established() const noexcept { return s_ && s_->established() && !error_; }
  bool failed() const noexcept { return error_.has_value(); }
  const peer_id& remote_peer() const noexcept { return s_->remote_peer(); }
  std::size_t buffered() const noexcept { return in_.size() + plain_bytes_; }

 private:
  result<void> advance();
  result<void> on_frame(bytes_view body);
  result<void> seal_frames(bytes_view plaintext);
  error fail(error e);

  std::unique_ptr<secure_session> s_;
  bytes in_;
  std::deque<bytes> plain_;
  std::size_t plain_bytes_ = 0;
  bytes out_;
  bytes pending_;
  std::optional<error> error_;
};

} // namespace aqua::p2p
