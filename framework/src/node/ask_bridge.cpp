#include "node/ask_bridge.hpp"

namespace aqua::node_detail {
namespace {

// One handler per answer type: request `target` with `req` and fill the slot.
// No request timeout (that would put every ask on CAF's clock thread): the
// caller keeps its own deadline, and every component answers eventually
// (waiting handlers such as next/watch/await expire on their own).
template <class T>
auto forward_for(caf::event_based_actor* self) {
  return [self](ask_atom, const caf::actor& target, caf::message& req, const reply_to<T>& reply) {
    self->request(target, caf::infinite, std::move(req))
      .then([reply](T& v) { reply(std::move(v)); },
            [reply](const caf::error& e) { reply(actors::from_caf(e)); });
  };
}

caf::behavior bridge(caf::event_based_actor* self, int) {
  return {
    forward_for<bool>(self),
    forward_for<std::uint64_t>(self),
    forward_for<std::string>(self),
    forward_for<std::vector<std::string>>(self),
    forward_for<inbound_message>(self),
    forward_for<actors::message_list>(self),
    forward_for<actors::outbox_list>(self),
    forward_for<path_diagnosis>(self),
    forward_for<relay_server_status>(self),
  };
}

} // namespace

// (The int argument: CAF 0.17 spawning a function actor without arguments
// trips UBSan inside CAF's headers.)
caf::actor spawn_ask_bridge(caf::actor_system& sys) { return sys.spawn(bridge, 0); }

} // namespace aqua::node_detail
