// The relay actor: decides whether this node forwards a frame addressed to
// another peer (relay.serve) and enforces the in-flight forwarding budget.
// Circuit Relay v2 (libp2p HOP/STOP) builds on this component later.

#include <spdlog/spdlog.h>

#include "actors/protocol.hpp"

namespace aqua::actors {
namespace {


struct relay_state {
  peer_id self;
  relay_config cfg;
  std::uint32_t in_flight = 0;
  std::uint64_t forwarded = 0;
  std::uint64_t refused = 0;
  static inline const char* name = "aqua.relay";
};

caf::behavior relay_actor(caf::stateful_actor<relay_state>* self, peer_id me, relay_config cfg) {
  self->state.self = std::move(me);
  self->state.cfg = cfg;
  return {
    // Routing asks: may I forward this frame to `recipient`? -> true, or an error.
    [=](forward_atom, const std::string& recipient, std::uint64_t size) -> caf::result<bool> {
      auto& st = self->state;
      if (!st.cfg.serve) {
        ++st.refused;
        return to_caf(error{errc::wrong_recipient, "frame for " + recipient + " reached " + st.self.str() +
                                                       ", which does not relay (relay.serve: false)"});
      }
      if (st.in_flight >= st.cfg.max_forward_frames) {
        ++st.refused;
        return to_caf(error{errc::would_block, "relay budget of " + std::to_string(st.cfg.max_forward_frames) +
                                                   " in-flight frames exhausted"});
      }
      ++st.in_flight;
      spdlog::debug("relay: forwarding {} bytes to {}", size, recipient);
      return true;
    },
    [=](forward_done_atom, bool delivered) {
      auto& st = self->state;
      if (st.in_flight > 0) --st.in_flight;
      if (delivered) ++st.forwarded; else ++st.refused;
    },
    [=](status_atom) -> std::uint64_t { return self->state.forwarded; },
  };
}

} // namespace

caf::actor spawn_relay(caf::actor_system& sys, peer_id self, relay_config cfg) {
  return sys.spawn(relay_actor, std::move(self), cfg);
}

} // namespace aqua::actors
