#include "node/transport_host.hpp"

#include "p2p/session_stream.hpp"

namespace aqua {

node_transport_host::node_transport_host(keypair identity, std::shared_ptr<env> e)
    : key_(std::move(identity)), self_(key_.id()), env_(std::move(e)) {}

std::unique_ptr<secure_session> node_transport_host::new_session(bool initiator, std::optional<peer_id> expected) {
  // The same Noise XX secure_session the libp2p streams use (p2p/session_stream).
  return p2p::keypair_sessions(key_, *env_)(initiator, std::move(expected));
}

} // namespace aqua
