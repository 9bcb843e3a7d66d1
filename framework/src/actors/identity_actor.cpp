// The identity actor: the only place a running node keeps its secret key.
// Other actors ask it to sign; the key never leaves this actor's state.

#include "actors/identity_actor.hpp"

namespace aqua::actors {
namespace {

struct identity_state {
  std::shared_ptr<keypair_holder> key;
  static inline const char* name = "aqua.identity";
};

caf::behavior identity_actor(caf::stateful_actor<identity_state>* self, std::shared_ptr<keypair_holder> key) {
  self->state.key = std::move(key);
  return {
    [=](sign_atom, const bytes& message) -> bytes { return self->state.key->kp.sign(message); },
    [=](whoami_atom) -> std::string { return self->state.key->kp.id().str(); },
  };
}

} // namespace

caf::actor spawn_identity(caf::actor_system& sys, std::shared_ptr<keypair_holder> key) {
  return sys.spawn(identity_actor, std::move(key));
}

} // namespace aqua::actors
