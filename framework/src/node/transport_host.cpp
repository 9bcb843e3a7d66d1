#include "node/transport_host.hpp"

#include <mutex>

#include "p2p/noise_handshake.hpp"
#include "p2p/noise_transport.hpp"

namespace aqua {
namespace {

class noise_session : public secure_session {
 public:
  noise_session(p2p::noise_handshake hs) : hs_(std::move(hs)) {}

  result<std::optional<bytes>> handshake_output() override {
    if (transport_ || !hs_.our_turn()) return std::optional<bytes>();
    auto m = hs_.write_message();
    if (!m) return m.err();
    if (auto r = maybe_finish(); !r) return r.err();
    return std::optional<bytes>(std::move(*m));
  }

  result<void> handshake_input(bytes_view message) override {
    if (transport_) return error{errc::bad_frame, "handshake message after the handshake completed"};
    if (auto r = hs_.read_message(message); !r) return r;
    return maybe_finish();
  }

  bool established() const override { return transport_.has_value(); }
  const peer_id& remote_peer() const override { return hs_.remote_peer(); }

  result<std::vector<bytes>> seal(bytes_view frame) override {
    if (!transport_) return error{errc::not_running, "secure session not established"};
    std::vector<bytes> out;
    constexpr auto chunk = p2p::noise_transport::max_plaintext;
    out.reserve(frame.size() / chunk + 1);
    std::size_t off = 0;
    do {
      auto n = std::min(chunk, frame.size() - off);
      auto c = transport_->encrypt(frame.subspan(off, n));
      if (!c) return c.err();
      out.push_back(std::move(*c));
      off += n;
    } while (off < frame.size());
    return out;
  }

  result<bytes> open(bytes_view message) override {
    if (!transport_) return error{errc::not_running, "secure session not established"};
    return transport_->decrypt(message);
  }

 private:
  result<void> maybe_finish() {
    if (!hs_.complete() || transport_) return ok();
    auto t = hs_.finish();
    if (!t) return t.err();
    transport_.emplace(std::move(*t));
    return ok();
  }

  p2p::noise_handshake hs_;
  std::optional<p2p::noise_transport> transport_;
};

} // namespace

node_transport_host::node_transport_host(keypair identity, std::shared_ptr<env> e)
    : key_(std::move(identity)), self_(key_.id()), env_(std::move(e)) {}

std::unique_ptr<secure_session> node_transport_host::new_session(bool initiator, std::optional<peer_id> expected) {
  if (initiator) return std::make_unique<noise_session>(p2p::noise_handshake::initiator(key_, *env_, std::move(expected)));
  return std::make_unique<noise_session>(p2p::noise_handshake::responder(key_, *env_));
}

} // namespace aqua
