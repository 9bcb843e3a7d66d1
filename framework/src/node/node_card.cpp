// The node's own card (docs/protocol/cards.md, "Renewal"): signed at start, renewed by the card keeper before it expires
// (rotating the signed prekey when due) or on request, offered where peers look cards up; and cards signed on
// request. Every state change the signing makes goes through the mailbox, in order with those of seals and opens.

#include <algorithm>

#include <spdlog/spdlog.h>

#include "e2ee/card.hpp"
#include "node/card_keeper.hpp"
#include "node/node_impl.hpp"

namespace aqua {

using actors::renew_atom;

std::vector<std::string> node::impl::card_addresses(std::vector<std::string> base) const {
  // The transports' extra card addresses: relay_v2 lists a circuit address through every configured relay (its
  // listen("/p2p-circuit") returned only the first), so a sender that found the card on one of them reaches us.
  for (auto& [name, t] : transports)
    for (auto& a : t->card_addresses())
      if (std::find(base.begin(), base.end(), a) == base.end()) base.push_back(a);
  return base;
}

std::vector<std::string> node::impl::transport_addresses() const {
  std::vector<std::string> out;
  for (auto& [name, t] : transports)
    for (auto& a : t->listen_addresses())
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  return out;
}

result<void> node::impl::start_card(const std::vector<std::string>& listening) {
  node_detail::card_keeper_setup k;
  k.node_name = cfg.name;
  k.mailbox = mailbox;
  // As the transports listen now (a relay_v2 address comes with its reservation).
  k.addresses = [this] { return card_addresses(transport_addresses()); };
  // Here at start, then on the keeper's thread (node::stop waits for the keeper).
  auto install = [this](const std::string& text) {
    {
      std::lock_guard lock(card->mu);
      card->text = text;
    }
    // Offered where peers can look it up (relay_v2: the relays we reserve on; card-directory.md).
    if (auto encoded = e2ee::card_from_text(text))
      for (auto& [name, t] : transports) t->publish_card(*encoded);
  };
  k.installed = install;
  auto first = card_addresses(listening);
  keeper = node_detail::spawn_card_keeper(*system, std::move(k));
  caf::scoped_actor sa{*system};
  std::optional<error> failure;
  sa->request(mailbox, std::chrono::seconds(10), renew_atom::value, first, actors::renew_now)
    .receive([&](const std::string& card_text, bool) { install(card_text); },
             [&](const caf::error& e) { failure = from_caf(e); });
  if (failure) return *failure;
  return ok();
}

std::string node::card() const {
  std::lock_guard lock(impl_->card->mu);
  return impl_->card->text;
}

result<node::card_renewal> node::renew_card(bool new_signed_prekey) {
  if (impl_->stopped) return error{errc::not_running, "node " + impl_->cfg.name + " is stopped"};
  caf::scoped_actor sa{*impl_->system};
  result<card_renewal> out = error{errc::not_running, "node " + impl_->cfg.name + " is stopped"};
  sa->request(impl_->keeper, std::chrono::seconds(10), renew_atom::value,
              new_signed_prekey ? actors::renew_rotating : actors::renew_now)
    .receive([&](const std::string& text, bool rotated) { out = card_renewal{text, rotated}; },
             [&](const caf::error& e) {
               auto why = from_caf(e);
               out = why.code() == errc::timeout ? no_answer(impl_->cfg.name, std::chrono::seconds(10)) : why;
             });
  return out;
}

result<std::string> node::sign_card(const std::vector<std::string>& addresses,
                                    const std::vector<std::string>& capabilities, std::chrono::milliseconds validity) {
  if (validity.count() <= 0) return error{errc::invalid_argument, "a card's validity must be positive"};
  // Through the mailbox: its expiry becomes one of the signed prekey's cards, a state change written in order.
  return impl_->ask<std::string>(impl_->mailbox, std::chrono::seconds(10), actors::card_atom::value, addresses,
                                 capabilities, static_cast<std::int64_t>(validity.count()));
}

} // namespace aqua
