#include "node/transport_host.hpp"

#include "p2p/session_stream.hpp"

namespace aqua {

node_transport_host::node_transport_host(keypair identity, std::shared_ptr<env> e)
    : key_(std::move(identity)), self_(key_.id()), env_(std::move(e)) {}

std::unique_ptr<secure_session> node_transport_host::new_session(bool initiator, std::optional<peer_id> expected) {
  // The same Noise XX secure_session the libp2p streams use (p2p/session_stream).
  return p2p::keypair_sessions(key_, *env_)(initiator, std::move(expected));
}

void node_transport_host::deliver_held(bytes frame, const peer_id& depositor, std::function<void(result<void>)> done) {
  held_sink sink;
  {
    std::lock_guard lock(sink_mutex_);
    sink = sink_;
  }
  if (!sink) {
    done(error{errc::not_running, "the node is not running yet"});
    return;
  }
  sink(std::move(frame), depositor, std::move(done));
}

void node_transport_host::set_held_sink(held_sink sink) {
  std::lock_guard lock(sink_mutex_);
  sink_ = std::move(sink);
}

} // namespace aqua
