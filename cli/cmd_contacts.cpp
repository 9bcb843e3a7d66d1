// aqua card export / aqua contacts add|list|show|verify|block|unblock|remove

#include <iostream>
#include <optional>

#include "aqua/config.hpp"
#include "commands.hpp"
#include "contacts/contact_store.hpp"
#include "core/bounded_read.hpp"
#include "core/split_list.hpp"
#include "control/control_handler.hpp"
#include "daemon_client.hpp"
#include "e2ee/own_card.hpp"
#include "store/engine_store.hpp"
#include "identity/key_store.hpp"
#include "output.hpp"

namespace aqua::cli {
namespace {

struct card_options {
  std::vector<std::string> addresses;
  std::vector<std::string> capabilities;
  std::optional<unsigned> validity_days;  // default: the config's crypto.card_validity_days
};

struct contact_options {
  std::string card;
  std::string alias;
  bool alias_given = false;
  std::string who;
  std::string timeout = "15s";
};

nlohmann::json card_json(const e2ee::contact_card& c) {
  nlohmann::json otks = nlohmann::json::array();
  for (auto& k : c.one_time_prekeys) otks.push_back({{"id", k.id}, {"key", to_hex(k.pub)}});
  return {{"peer_id", c.id().str()}, {"identity_key", c.identity.hex()}, {"agreement_key", to_hex(c.agreement_key)},
          {"signed_prekey", {{"id", c.signed_prekey_id}, {"key", to_hex(c.signed_prekey)}}},
          {"one_time_prekeys", otks}, {"addresses", c.addresses}, {"capabilities", c.capabilities},
          {"created_ms", c.created_ms}, {"expires_ms", c.expires_ms}, {"card", e2ee::card_to_text(c)}};
}

// The addresses a daemon of `cfg` lists in its card, as far as the config tells them without running it: a
// relay_v2 listen address /p2p-circuit stands for a reservation on each of the transport's relays, and a
// reservation is listed as RELAY/p2p-circuit/p2p/SELF (as the daemon lists it once reserved); a /tcp/0 address gets
// its port only when a daemon binds it, so it is left out (`left_out` says which).
std::vector<std::string> configured_addresses(const node_config& cfg, const peer_id& self,
                                              std::vector<std::string>& left_out) {
  std::vector<std::string> out;
  const std::string circuit = "/p2p-circuit", me = "/p2p/" + self.str();
  for (const auto& t : cfg.transports)
    for (const auto& a : t.listen) {
      if (t.plugin == "relay_v2" && a == circuit) {
        if (auto relays = t.settings.find("relays"); relays != t.settings.end())
          for (const auto& one : detail::split_trimmed(relays->second, ',', detail::max_relays_setting))
            out.push_back(one + circuit + me);  // the relays the transport reserves on, read as it reads them
      } else if (t.plugin == "relay_v2" && a.size() > circuit.size() &&
                 a.compare(a.size() - circuit.size(), circuit.size(), circuit) == 0) {
        out.push_back(a + me);
      } else if (a.size() >= 6 && (a.compare(a.size() - 6, 6, "/tcp/0") == 0 || a.find("/tcp/0/") != std::string::npos)) {
        left_out.push_back(a);
      } else {
        out.push_back(a);
      }
    }
  return out;
}

int run_export(const global_options& g, const card_options& o) {
  // A running daemon holds the store (and the keys a card names): its card,
  // signed at start with its listen addresses, or one it signs now with the
  // addresses, capabilities and validity asked for.
  {
    nlohmann::json req{{"cmd", "card"}};
    if (!o.addresses.empty()) req["addresses"] = o.addresses;
    if (!o.capabilities.empty()) req["capabilities"] = o.capabilities;
    if (o.validity_days) req["validity_days"] = *o.validity_days;
    if (auto d = connect_daemon(g)) {
      auto r = (*d)->call(req);
      if (!r) return report(r.err(), g.json);
      auto text = r->value("card", std::string());
      auto raw = e2ee::card_from_text(text);
      auto card = raw ? e2ee::decode_card(*raw) : result<e2ee::contact_card>(raw.err());
      if (!card) return report(card.err(), g.json);
      if (g.json) print_json(card_json(*card));
      else std::cout << text << "\n";
      return exit_ok;
    } else if (!no_daemon(d.err())) {
      return report(d.err(), g.json);
    }
  }
  auto at = paths_of(g);
  if (!at) return report(at.err(), g.json);
  const auto& dir = at->dir;
  auto kp = read_identity(dir);
  if (!kp) return report(kp.err(), g.json);
  // Without a daemon: the card's keys from the node's store (made on first use).
  auto db = store::db::open(at->data / store::dir_name);
  if (!db) return report(db.err(), g.json);
  auto engine = store::load_engine(**db, kp->pub(), system_env());
  if (!engine) return report(engine.err(), g.json);
  auto addresses = o.addresses;
  std::int64_t days = o.validity_days.value_or(30);
  if (auto cfg = load_config(dir / config_file_name)) {  // defaults: as the node would sign its card
    if (addresses.empty()) {
      std::vector<std::string> left_out;
      addresses = configured_addresses(*cfg, kp->id(), left_out);
      for (const auto& a : left_out)
        std::cerr << "aqua: warning: the card leaves out " << a << " (port 0: the port is known once 'aqua serve' "
                  << "binds it; export the card while the daemon runs, or pass --address)\n";
    }
    if (!o.validity_days) days = cfg->crypto.card_validity_days;
  } else if (o.addresses.empty()) {  // a card without addresses: peers who add it cannot dial us
    std::cerr << "aqua: warning: the card lists no addresses, since the config does not load (" << cfg.err().what()
              << "); pass --address or fix the config\n";
  }
  auto card = e2ee::make_own_card(*engine, [&](bytes_view m) { return kp->sign(m); }, addresses, o.capabilities,
                                  days * 24 * 3600 * 1000);
  if (!card) return report(card.err(), g.json);
  leveldb::WriteBatch b;
  store::engine_ops(engine->take_changes()).append_to(b);
  if (auto r = (*db)->write(std::move(b)); !r) return report(r.err(), g.json);
  if (g.json)
    print_json(card_json(*card));
  else
    std::cout << e2ee::card_to_text(*card) << "\n";
  return exit_ok;
}

// aqua card renew: the running daemon re-signs its card now (it does so by itself once half its validity has
// passed) and offers it on its relays; without a daemon there is nothing to renew (the next start signs one).
int run_renew(const global_options& g, bool rotate) {
  auto d = connect_daemon(g);
  if (!d) {
    if (!no_daemon(d.err())) return report(d.err(), g.json);
    return report(error{d.err().code(), d.err().message() + " (a daemon signs a fresh card each time it starts, and "
                                                              "renews it while it runs)"},
                  g.json);
  }
  nlohmann::json req{{"cmd", "card.renew"}};
  if (rotate) req["rotate"] = true;
  auto r = (*d)->call(req);
  if (!r) return report(r.err(), g.json);
  auto raw = e2ee::card_from_text(r->value("card", std::string()));
  auto card = raw ? e2ee::decode_card(*raw) : result<e2ee::contact_card>(raw.err());
  if (!card) return report(card.err(), g.json);
  const bool rotated = r->value("signed_prekey_rotated", false);
  if (g.json) {
    auto j = card_json(*card);
    j["signed_prekey_rotated"] = rotated;
    print_json(j);
    return exit_ok;
  }
  // The card alone on stdout (aqua card renew > me.card, as with card export); what happened on stderr.
  std::cerr << "aqua: renewed the card of " << card->id().str() << ": valid until " << utc_time(card->expires_ms)
            << ", signed prekey " << card->signed_prekey_id
            << (rotated ? " (new: the previous one still opens first messages from older copies of the card)\n"
                        : " (kept; it rotates at a renewal once published for half the card validity, when no "
                          "unexpired card names the previous one)\n");
  std::cout << e2ee::card_to_text(*card) << "\n";
  return exit_ok;
}

// contacts.* (docs/api/control.md) through the running daemon, which holds
// the store; without one, on the store directly.
result<nlohmann::json> contacts_request(const global_options& g, const nlohmann::json& req) {
  auto d = connect_daemon(g);
  if (d) return (*d)->call(req);
  if (!no_daemon(d.err())) return d.err();
  auto at = paths_of(g);
  if (!at) return at.err();
  auto kp = read_identity(at->dir);  // the owner: our own card is refused as a contact
  if (!kp) return kp.err();
  auto db = store::db::open(at->data / store::dir_name);
  if (!db) return db.err();
  auto cs = contact_store::open(std::shared_ptr<store::db>(std::move(*db)), at->data / contact_book::legacy_file_name);
  if (!cs) return cs.err();
  (*cs)->set_owner(kp->id());
  auto store = *cs;
  auto info = [](result<contact> c) -> result<contact_info> {
    if (!c) return c.err();
    return describe(*c);
  };
  control::contact_ops ops;
  ops.add = [&](const std::string& card, const std::string& alias) {
    return info(store->add(card, alias, system_env()->now_unix_ms()));
  };
  ops.list = [&]() -> result<std::vector<contact_info>> {
    std::vector<contact_info> out;
    for (auto& c : store->all()) out.push_back(describe(c));
    return out;
  };
  ops.find = [&](const std::string& who) { return info(store->find(who)); };
  ops.set_trust = [&](const std::string& who, const std::string& trust) -> result<contact_info> {
    auto t = parse_trust(trust);
    if (!t) return error{errc::invalid_argument, "unknown trust state '" + trust + "'"};
    return info(store->set_trust(who, *t));
  };
  ops.remove = [&](const std::string& who) { return store->remove(who); };
  return control::contacts_command(ops, req.at("cmd").get<std::string>(), req);
}

int print_added(const global_options& g, const nlohmann::json& c, const std::string& where);

int run_add(const global_options& g, const contact_options& o) {
  // A card's text itself, '-' for stdin, or a file holding it.
  constexpr std::size_t max_card = 1u << 20;
  std::string text = o.card;
  std::error_code ec;
  if (o.card == "-" || (o.card.rfind(e2ee::card_text_prefix, 0) != 0 && std::filesystem::exists(o.card, ec))) {
    auto read = o.card == "-" ? detail::read_bounded(std::cin, max_card, "the card on stdin", errc::bad_card)
                              : detail::read_file_bounded(o.card, max_card, "card file '" + o.card + "'", errc::bad_card);
    if (!read) return report(read.err(), g.json);
    text = std::move(*read);
  } else if (o.card.rfind(e2ee::card_text_prefix, 0) != 0) {
    // As 'send --file' with a missing file: not_found (exit 1).
    return report(error{errc::not_found, "'" + o.card + "' is neither a card file (no such file) nor card text (" +
                                              std::string(e2ee::card_text_prefix) + "...), nor - for stdin"},
                  g.json);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty())
    return report(error{errc::bad_card, (o.card == "-" ? std::string("the card on stdin") : "card file '" + o.card + "'") +
                                          " is empty"},
                  g.json);
  if (o.alias_given && o.alias.empty())
    return report(error{errc::invalid_argument, "--alias is empty: give a name, or leave --alias out"}, g.json);
  // A card of a version this aqua does not read is a card problem like any other (exit 4), told here before the
  // store is involved: elsewhere unknown_version (a newer store) is an operation failure (exit 1).
  if (auto raw = e2ee::card_from_text(text); raw) {
    if (auto card = e2ee::decode_card(*raw); !card && card.err().code() == errc::unknown_version) {
      report(card.err(), g.json);
      return exit_identity;
    }
  }
  auto added = contacts_request(g, {{"cmd", "contacts.add"}, {"card", text}, {"alias", o.alias}});
  if (!added) return report(added.err(), g.json);
  return print_added(g, *added, "");
}

// A contact as contacts.add and contacts.lookup answer it; `where` says where its card came from.
int print_added(const global_options& g, const nlohmann::json& c, const std::string& where) {
  auto alias = c.value("alias", std::string());
  const auto id = c.value("peer_id", std::string());
  const auto trust = c.value("trust", std::string());
  const bool refreshed = c.value("refreshed", false);
  if (g.json) {
    print_json(c);  // the contact as contacts.add answers it (show's fields, and "refreshed")
  } else if (trust == "blocked") {  // a known peer keeps its trust: never "added" for one that stays blocked
    std::cout << id << (alias.empty() ? "" : " ('" + alias + "')") << " is blocked: its card was refreshed, and it "
              << "stays blocked (its messages are refused); 'aqua contacts unblock " << (alias.empty() ? id : alias)
              << "' lifts the block\n";
  } else if (refreshed && !c.value("card_changed", true)) {  // contacts.lookup of a card already held
    std::cout << "the card of " << id << (alias.empty() ? "" : " ('" + alias + "')")
              << " is up to date: its relays hold no newer one (" << trust << ")\n";
  } else {
    std::cout << (refreshed ? "refreshed the card of " : "added ") << id << (alias.empty() ? "" : " as '" + alias + "'")
              << where << " (" << trust
              << (trust == "verified" ? "" : "; compare safety codes with 'aqua contacts verify'") << ")\n";
  }
  return exit_ok;
}

int run_lookup(const global_options& g, const contact_options& o) {
  if (o.alias_given && o.alias.empty())
    return report(error{errc::invalid_argument, "--alias is empty: give a name, or leave --alias out"}, g.json);
  auto ms = parse_duration_ms(o.timeout, "--timeout");
  if (!ms) return report(ms.err(), g.json);
  if (*ms < 1 || *ms > 120000)
    return report(error{errc::invalid_argument, "--timeout must be between 1ms and 2m"}, g.json);
  auto d = connect_daemon(g);  // the relays are the daemon's
  if (!d) return report(d.err(), g.json);
  auto found = (*d)->call({{"cmd", "contacts.lookup"}, {"peer", o.who}, {"alias", o.alias}, {"timeout_ms", *ms}});
  if (!found) return report(found.err(), g.json);
  return print_added(g, *found, " from its card on a relay");
}

int run_list(const global_options& g) {
  auto list = contacts_request(g, {{"cmd", "contacts.list"}});
  if (!list) return report(list.err(), g.json);
  auto& all = (*list)["contacts"];
  if (g.json) {
    print_json(*list);
  } else {
    if (all.empty()) std::cout << "no contacts yet: add a card with 'aqua contacts add <card>'\n";
    for (auto& c : all) {
      auto alias = c.value("alias", std::string());
      std::cout << c["peer_id"].get<std::string>() << "  " << (alias.empty() ? "-" : alias) << "  "
                << c["trust"].get<std::string>() << "\n";
    }
  }
  return exit_ok;
}

// show | verify | block | unblock | remove
int run_one(const global_options& g, const contact_options& o, const std::string& action) {
  auto c = contacts_request(g, {{"cmd", "contacts." + action}, {"who", o.who}});
  if (!c) return report(c.err(), g.json);
  if (action == "remove") {
    if (g.json) print_json(*c);
    else std::cout << "removed " << (*c)["removed"].get<std::string>() << "\n";
    return exit_ok;
  }
  auto dir = resolve_data_dir(g.dir);
  if (!dir) return report(dir.err(), g.json);
  auto kp = read_identity(*dir);
  if (!kp) return report(kp.err(), g.json);
  auto id = peer_id::parse((*c)["peer_id"].get<std::string>());
  if (!id) return report(id.err(), g.json);
  auto code = e2ee::safety_code(kp->pub(), id->key());
  if (g.json) {
    auto j = *c;
    j["safety_code"] = code;
    print_json(j);
  } else {
    auto alias = c->value("alias", std::string());
    const auto trust = (*c)["trust"].get<std::string>();
    std::cout << id->str() << (action == "show" ? "" : "  now " + trust)
              << "\n  alias: " << (alias.empty() ? "-" : alias) << "\n  trust: " << trust
              << "\n  safety code (compare with theirs; identical on both sides):\n    " << code << "\n";
  }
  return exit_ok;
}

} // namespace

void add_contact_commands(CLI::App& app, global_options& g, int& rc) {
  auto co = std::make_shared<card_options>();
  auto* card = app.add_subcommand("card", "Our signed contact card");
  card->require_subcommand(1);
  card->footer("Examples:\n  aqua card export > me.card\n  aqua card export --json --capability research");
  auto* exp = card->add_subcommand("export", "Print our signed contact card (creates E2EE keys on first use)");
  exp->add_option("--address", co->addresses, "Address to advertise (repeatable; default: the config's listen addresses)");
  exp->add_option("--capability", co->capabilities, "Capability to advertise, [a-z0-9._/-] (repeatable)");
  exp->add_option("--validity-days", co->validity_days,
                  "How long the card is valid (default: the config's crypto.card_validity_days, 30)")
    ->check(CLI::Range(1, 3650));
  exp->footer("Without options and with a daemon running: the card it signed at start. With options, the running "
              "daemon signs one\n(its own card does not change); without a daemon, the store's keys sign it.\n"
              "Examples:\n  aqua card export > me.card\n  aqua card export --json --capability research");
  exp->callback([&g, &rc, co] { rc = run_export(g, *co); });
  auto* renew = card->add_subcommand("renew", "Have the running daemon re-sign its card now and offer it on its relays");
  renew->footer("A daemon renews its card by itself once half its validity has passed (checked hourly), and\n"
                "then rotates its signed prekey when that has been published for half the validity and no\n"
                "unexpired card names the previous one (docs/protocol/cards.md, \"Renewal\"). Use this after\n"
                "changing addresses or relays, or to publish fresh one-time prekeys. Exit code 5 when no daemon runs.\n"
                "Examples:\n  aqua card renew\n  aqua card renew --rotate --json | jq .signed_prekey.id");
  auto rotate = std::make_shared<bool>(false);
  renew->add_flag("--rotate", *rotate,
                  "Also replace the signed prekey now (refused while a card naming the previous one may be in use)");
  renew->callback([&g, &rc, rotate] { rc = run_renew(g, *rotate); });

  auto o = std::make_shared<contact_options>();
  auto* contacts = app.add_subcommand("contacts", "Manage contacts: other agents' verified cards and trust");
  contacts->require_subcommand(1);
  contacts->footer("Examples:\n  aqua contacts add bob.card --alias bob\n  aqua contacts lookup 12D3KooW... --alias bob\n"
                   "  aqua contacts list --json\n"
                   "  aqua contacts verify bob   # after comparing the safety code with bob\n  aqua contacts block 12D3KooW...\n"
                   "  aqua contacts unblock 12D3KooW...");
  auto* add = contacts->add_subcommand("add", "Add (or refresh) a contact from a card file, card text, or - for stdin");
  add->add_option("card", o->card, "Card file, 'aqua-card-v1:...' text, or -")->required();
  add->add_option("--alias", o->alias, "Short name to use instead of the peer ID");
  add->footer("A peer that is a contact already gets the newer card and keeps its trust (a blocked one stays blocked:\n"
              "'aqua contacts unblock' lifts that) and its alias unless --alias is given; --json says \"refreshed\": true.\n"
              "Examples:\n  aqua contacts add bob.card --alias bob\n  aqua card export | ssh host aqua contacts add -");
  add->callback([&g, &rc, o, add] {
    o->alias_given = add->get_option("--alias")->count() > 0;
    rc = run_add(g, *o);
  });
  auto* lookup = contacts->add_subcommand("lookup", "Find a peer's card on the relays (the daemon's) and add it");
  lookup->add_option("peer", o->who, "Peer ID (12D3KooW...), or a contact's alias to refresh its card")->required();
  lookup->add_option("--alias", o->alias, "Short name to use instead of the peer ID");
  lookup->add_option("--timeout", o->timeout,
                     "How long to wait for the relays (default 15s, at most 2m; each relay gets at most 10s)");
  lookup->footer("Asks every relay configured for the daemon's relay_v2 transport (docs/protocol/card-directory.md). The\n"
                 "card is checked (its signature is the peer's own: a relay cannot forge one) and added unverified, or\n"
                 "refreshes a contact's card. 'aqua send <PEER_ID>' does this by itself for a peer that is no contact.\n"
                 "Needs a running daemon (exit 5 otherwise); exit 1 when no relay has the card (not_found), exit 6\n"
                 "when no relay answered in time (timeout; other errors of unreachable relays: exit 1).\n"
                 "Examples:\n  aqua contacts lookup 12D3KooW... --alias bob\n"
                 "  aqua contacts lookup 12D3KooW... --json && aqua contacts show 12D3KooW...");
  lookup->callback([&g, &rc, o, lookup] {
    o->alias_given = lookup->get_option("--alias")->count() > 0;
    rc = run_lookup(g, *o);
  });
  auto* list = contacts->add_subcommand("list", "List contacts with their trust state");
  list->footer("Examples:\n  aqua contacts list\n  aqua contacts list --json");
  list->callback([&g, &rc] { rc = run_list(g); });
  for (auto [name, help, examples] :
       {command_doc{"show", "Show a contact and the safety code", "Examples:\n  aqua contacts show bob\n  aqua contacts show 12D3KooW... --json"},
        command_doc{"verify", "Print the safety code and mark the contact verified",
            "Compare the safety code with the contact over a channel you trust first.\n"
            "A blocked contact is refused (exit 1, conflict): unblock it first.\n"
            "Examples:\n  aqua contacts verify bob\n  aqua contacts verify 12D3KooW... --json"},
        command_doc{"block", "Block a contact: its messages are dropped unanswered, and nothing is sent to it",
                    "Its node is not told, so it retries until each message's TTL: unblocking before then lets the\n"
                    "next retry through (docs/protocol/cards.md).\n"
                    "Examples:\n  aqua contacts block bob\n  aqua contacts block 12D3KooW... --json"},
        command_doc{"unblock", "Lift a block: the contact is unverified again (other states stay as they are)",
            "Examples:\n  aqua contacts unblock bob\n  aqua contacts unblock bob && aqua contacts verify bob"},
        command_doc{"remove", "Remove a contact", "Examples:\n  aqua contacts remove bob\n  aqua contacts remove 12D3KooW... --json"}}) {
    auto* sub = contacts->add_subcommand(name, help);
    sub->footer(examples);
    sub->add_option("who", o->who, "Peer ID or alias")->required();
    std::string action = name;
    sub->callback([&g, &rc, o, action] { rc = run_one(g, *o, action); });
  }
}

} // namespace aqua::cli
