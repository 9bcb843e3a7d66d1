// aqua::node's contact calls: a thin layer over the node's contact_store
// (shared with the crypto and routing actors, so changes apply at once).

#include "aqua/env.hpp"
#include "node/node_impl.hpp"

namespace aqua {

result<contact_info> node::add_contact(const std::string& card_text, const std::string& alias,
                                       const std::string& trust) {
  if (impl_->stopped) return error{errc::not_running, "node is stopped"};
  auto t = parse_trust(trust);
  if (!t || *t == trust_state::blocked)
    return error{errc::invalid_argument, "trust for a new contact must be 'unverified' or 'verified', not '" + trust + "'"};
  auto c = impl_->contacts->add(card_text, alias, system_env()->now_unix_ms(), *t);
  if (!c) return c.err();
  return describe(*c);
}

result<std::vector<contact_info>> node::contacts() {
  if (impl_->stopped) return error{errc::not_running, "node is stopped"};
  std::vector<contact_info> out;
  for (auto& c : impl_->contacts->all()) out.push_back(describe(c));
  return out;
}

result<contact_info> node::find_contact(const std::string& who) {
  if (impl_->stopped) return error{errc::not_running, "node is stopped"};
  auto c = impl_->contacts->find(who);
  if (!c) return c.err();
  return describe(*c);
}

std::optional<std::int64_t> node::contact_card_expiry(const peer_id& peer) const {
  if (impl_->stopped) return std::nullopt;
  return impl_->contacts->card_expiry(peer);
}

result<contact_info> node::set_contact_trust(const std::string& who, const std::string& trust) {
  if (impl_->stopped) return error{errc::not_running, "node is stopped"};
  auto t = parse_trust(trust);
  if (!t) return error{errc::invalid_argument, "trust must be unverified, verified or blocked, not '" + trust + "'"};
  auto c = impl_->contacts->set_trust(who, *t);
  if (!c) return c.err();
  return describe(*c);
}

result<peer_id> node::remove_contact(const std::string& who) {
  if (impl_->stopped) return error{errc::not_running, "node is stopped"};
  return impl_->contacts->remove(who);
}

} // namespace aqua
