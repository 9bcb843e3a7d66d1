#pragma once
// Private: keeps a running node's card fresh (docs/protocol/cards.md, "Renewal"). Every hour it asks the mailbox to renew
// the card (the crypto actor re-signs it once half its validity has passed, rotating the signed prekey when due;
// the mailbox writes the state change in order and answers once it is durable), then hands the new card to
// `installed` (the node's card and the transports' card directories). node::renew_card asks it to renew now.

#include <caf/all.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace aqua::node_detail {

struct card_keeper_setup {
  std::string node_name;  // for the log
  caf::actor mailbox;
  std::function<std::vector<std::string>()> addresses;       // what the card lists now
  std::function<void(const std::string& card)> installed;    // a new card is durable
  std::chrono::milliseconds check_every = std::chrono::hours(1);
};

// Answers (renew_atom, mode: actors::renew_now / renew_rotating) -> (card text; whether the signed prekey rotated).
caf::actor spawn_card_keeper(caf::actor_system& sys, card_keeper_setup setup);

} // namespace aqua::node_detail
