#pragma once
// Private: the node's transport_host — Noise XX secure sessions
// (docs/protocol/noise.md) bound to the node's Ed25519 identity, for
// transports that authenticate peers at connect time. It holds the key
// pair (shared, sodium-protected memory) so that the Noise static key can be
// signed per handshake; plugins only ever see secure_session objects.

#include <functional>
#include <memory>
#include <mutex>

#include "aqua/env.hpp"
#include "aqua/transport.hpp"
#include "identity/keypair.hpp"

namespace aqua {

class node_transport_host : public transport_host {
 public:
  node_transport_host(keypair identity, std::shared_ptr<env> e);
  const peer_id& local_peer() const override { return self_; }
  std::unique_ptr<secure_session> new_session(bool initiator, std::optional<peer_id> expected) override;
  // Held frames go to `sink` once the node's actors run (set_held_sink);
  // before that, and after clear, deliver_held answers not_running.
  using held_sink = std::function<void(bytes frame, const peer_id& depositor, std::function<void(result<void>)> done)>;
  void deliver_held(bytes frame, const peer_id& depositor, std::function<void(result<void>)> done) override;
  void set_held_sink(held_sink sink);
  // For in-tree libp2p transports that need the key pair itself (noise_stream).
  const keypair& identity() const { return key_; }

 private:
  keypair key_;
  peer_id self_;
  std::shared_ptr<env> env_;
  std::mutex sink_mutex_;
  held_sink sink_;
};

} // namespace aqua
