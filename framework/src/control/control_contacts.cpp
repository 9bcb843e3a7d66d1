// contacts.* of the control API (docs/api/control.md), over the running node
// or, in the CLI without a daemon, over the store itself (contact_ops).

#include "control/control_handler.hpp"
#include "e2ee/card.hpp"

namespace aqua::control {

nlohmann::json contact_json(const contact_info& c) {
  return nlohmann::json{{"peer_id", c.id.str()},          {"alias", c.alias},
                        {"trust", c.trust},               {"added_ms", c.added_unix_ms},
                        {"addresses", c.addresses},       {"card_expires_ms", c.card_expires_unix_ms}};
}

contact_ops node_contact_ops(node& n) {
  contact_ops ops;
  ops.add = [&n](const std::string& card, const std::string& alias) { return n.add_contact(card, alias); };
  ops.list = [&n] { return n.contacts(); };
  ops.find = [&n](const std::string& who) { return n.find_contact(who); };
  ops.set_trust = [&n](const std::string& who, const std::string& trust) { return n.set_contact_trust(who, trust); };
  ops.remove = [&n](const std::string& who) { return n.remove_contact(who); };
  ops.lookup = [&n](const peer_id& peer, const std::string& alias, std::chrono::milliseconds timeout) {
    return n.lookup_contact(peer, alias, timeout);
  };
  return ops;
}

namespace {

// Whether the peer a card names is a contact already (the add refreshes it): false for text that is no card (the
// add itself then says what is wrong with it).
bool known_peer(const contact_ops& ops, const std::string& card_text) {
  auto raw = e2ee::card_from_text(card_text);
  auto card = raw ? e2ee::decode_card(*raw) : result<e2ee::contact_card>(raw.err());
  return card && ops.find(card->id().str());
}

} // namespace

result<nlohmann::json> contacts_command(const contact_ops& ops, const std::string& cmd, const nlohmann::json& req) {
  if (cmd == "contacts.list") {
    auto all = ops.list();
    if (!all) return all.err();
    nlohmann::json list = nlohmann::json::array();
    for (auto& c : *all) list.push_back(contact_json(c));
    return nlohmann::json{{"contacts", list}};
  }
  if (cmd == "contacts.add") {
    auto text = arg_string(req, "contacts.add", "card", true);
    auto alias = arg_string(req, "contacts.add", "alias", false);
    if (!text) return text.err();
    if (!alias) return alias.err();
    const bool refreshed = known_peer(ops, *text);
    auto c = ops.add(*text, *alias);
    if (!c) return c.err();
    // A known peer keeps its trust, blocked included: "refreshed" and "trust" say so (the CLI printed "added").
    auto j = contact_json(*c);
    j["refreshed"] = refreshed;
    return j;
  }
  if (cmd == "contacts.lookup") {
    auto peer = arg_string(req, "contacts.lookup", "peer", true);
    auto alias = arg_string(req, "contacts.lookup", "alias", false);
    auto timeout = arg_uint(req, "contacts.lookup", "timeout_ms", 15000);
    if (!peer) return peer.err();
    if (!alias) return alias.err();
    if (!timeout) return timeout.err();
    if (*timeout < 1 || *timeout > 120000)
      return error{errc::invalid_argument, "contacts.lookup: 'timeout_ms' must be 1..120000"};
    // A peer ID, or a contact's alias (to refresh its card).
    auto id = peer_id::parse(*peer);
    std::optional<contact_info> known;
    if (auto c = ops.find(*peer)) known = *c;
    if (!id && known) id = known->id;
    if (!id)
      return error{errc::invalid_argument, "contacts.lookup: '" + *peer + "' is neither a peer ID (" +
                                               id.err().message() + ") nor the alias of a contact"};
    // An alias that names another contact is refused now, not after the relays answered.
    if (!alias->empty())
      if (auto other = ops.find(*alias); other && !(other->id == *id))
        return error{errc::conflict, "alias '" + *alias + "' already names " + other->id.str()};
    if (!ops.lookup) return error{errc::not_running, "looking a card up needs the running daemon (its relays)"};
    const bool refreshed = known.has_value();
    auto c = ops.lookup(*id, *alias, std::chrono::milliseconds(*timeout));
    if (!c) return c.err();
    auto j = contact_json(*c);
    j["refreshed"] = refreshed;
    // A contact whose stored card is as new as the relays' keeps it: nothing changed.
    j["card_changed"] = !known || known->card != c->card;
    return j;
  }
  auto who = arg_string(req, cmd.c_str(), "who", true);
  if (!who) return who.err();
  result<contact_info> c = error{errc::invalid_argument, "unknown command '" + cmd + "' (see docs/api/control.md)"};
  if (cmd == "contacts.show") c = ops.find(*who);
  if (cmd == "contacts.verify") c = ops.set_trust(*who, "verified");  // conflict for a blocked one: unblock first
  if (cmd == "contacts.block") c = ops.set_trust(*who, "blocked");
  if (cmd == "contacts.unblock") {  // blocked -> unverified; any other state stays as it is
    c = ops.find(*who);
    if (c && c->trust == "blocked") c = ops.set_trust(*who, "unverified");
  }
  if (cmd == "contacts.remove") {
    auto id = ops.remove(*who);
    if (!id) return id.err();
    return nlohmann::json{{"removed", id->str()}};
  }
  if (!c) return c.err();
  return contact_json(*c);
}

} // namespace aqua::control
