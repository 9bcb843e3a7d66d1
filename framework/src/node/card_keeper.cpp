#include "node/card_keeper.hpp"

#include <spdlog/spdlog.h>

#include "actors/protocol.hpp"

namespace aqua::node_detail {
namespace {

using actors::renew_atom;
using actors::tick_atom;

struct keeper_state {
  card_keeper_setup setup;
  static inline const char* name = "aqua.card_keeper";
};
using keeper_t = caf::stateful_actor<keeper_state>;

// Asks the mailbox for a renewal; `done` gets the answer after a new card was installed.
template <class Done, class Failed>
void renew(keeper_t* self, std::int32_t mode, Done done, Failed failed) {
  self->request(self->state.setup.mailbox, caf::infinite, renew_atom::value, self->state.setup.addresses(), mode)
    .then(
      [self, done](const std::string& card, bool rotated) mutable {
        if (!card.empty()) {
          self->state.setup.installed(card);
          spdlog::info("node {}: card renewed{}", self->state.setup.node_name, rotated ? " with a new signed prekey" : "");
        }
        done(card, rotated);
      },
      [failed](const caf::error& e) mutable { failed(e); });
}

caf::behavior card_keeper(keeper_t* self, card_keeper_setup setup) {
  self->state.setup = std::move(setup);
  self->delayed_send(self, self->state.setup.check_every, tick_atom::value);
  return {
    [=](tick_atom) {
      auto again = [self] { self->delayed_send(self, self->state.setup.check_every, tick_atom::value); };
      renew(
        self, actors::renew_when_due, [again](const std::string&, bool) { again(); },
        [self, again](const caf::error& e) {
          spdlog::warn("node {}: card renewal failed (tried again at the next check): {}", self->state.setup.node_name,
                       actors::from_caf(e).what());
          again();
        });
    },
    [=](renew_atom, std::int32_t mode) -> caf::result<std::string, bool> {
      auto rp = self->make_response_promise<std::string, bool>();
      renew(
        self, mode, [rp](const std::string& card, bool rotated) mutable { rp.deliver(card, rotated); },
        [rp](const caf::error& e) mutable { rp.deliver(e); });
      return rp;
    },
  };
}

} // namespace

caf::actor spawn_card_keeper(caf::actor_system& sys, card_keeper_setup setup) {
  return sys.spawn(card_keeper, std::move(setup));
}

} // namespace aqua::node_detail
