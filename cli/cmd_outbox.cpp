// aqua outbox list: the messages this node sent and their delivery state, through the running daemon's control
// API when there is one, else straight from the store. Filters (--to, --state, --last) apply here, after the
// whole outbox was read: the daemon pages it in message ID order, and "the last N" is by queue time.

#include <algorithm>
#include <ctime>
#include <iostream>

#include "aqua/identity.hpp"

#include "commands.hpp"
#include "control/control_json.hpp"
#include "daemon_client.hpp"
#include "delivery/message_views.hpp"
#include "delivery/records.hpp"
#include "local_store.hpp"
#include "output.hpp"

namespace aqua::cli {
namespace {

struct outbox_options {
  std::string to;       // peer ID or alias; empty: every recipient
  std::string state;    // queued, sent, delivered, expired, pending (queued or sent); empty: every state
  std::size_t last = 0; // the N most recently queued of the matching ones; 0: all
};

// The whole outbox with the aliases of its recipients: from the daemon (in pages) or from the store.
result<void> collect(const global_options& g, nlohmann::json& list, control::alias_map& aliases,
                     std::size_t& unreadable) {
  std::string after;
  for (bool first = true;; first = false) {  // the daemon answers in pages
    auto d = via_daemon(g, {{"cmd", "outbox.list"}, {"after", after}});
    if (!d && first) break;  // no daemon: the store
    if (!d) return error{errc::not_running, "the daemon stopped while the outbox was being listed"};
    if (!*d) return d->err();
    for (auto& m : (**d)["messages"]) list.push_back(std::move(m));
    if (!(**d).value("more", false)) {
      if (auto c = via_daemon(g, {{"cmd", "contacts.list"}}); c && *c)
        for (auto& e : (**c)["contacts"])
          if (!e.value("alias", std::string()).empty()) aliases.emplace(e["peer_id"].get<std::string>(), e["alias"]);
      return ok();
    }
    auto next = (**d).value("next_after", std::string());
    if (next <= after) return error{errc::bad_frame, "the daemon's outbox.list page did not advance"};
    after = next;
  }
  auto db = open_store(g);
  if (!db) return db.err();
  if (!*db) return ok();  // never ran: nothing sent
  auto r = (*db)->scan("o/", [&](std::string_view, std::string_view v) {
    auto rec = delivery::out_record::decode(as_bytes(v));
    if (!rec) {
      ++unreadable;
      return true;
    }
    list.push_back(control::to_json(delivery::to_outbound(*rec)));  // as the daemon's outbox.list shows it
    return true;
  });
  if (!r) return r.err();
  aliases = stored_aliases(**db);
  return ok();
}

// --to as a peer ID: itself, or the contact with that alias.
result<std::string> recipient_of(const std::string& to, const control::alias_map& aliases) {
  auto id = peer_id::parse(to);
  if (id) return id->str();
  if (to.rfind("12D3KooW", 0) == 0)  // no alias looks like a peer ID: a mistyped one
    return error{errc::invalid_argument, "outbox list --to: '" + to + "' is not a valid peer ID: " + id.err().message()};
  for (const auto& [peer, alias] : aliases)
    if (alias == to) return peer;
  return error{errc::not_found, "outbox list --to: '" + to + "' is neither a peer ID nor a contact alias"};
}

bool state_matches(const std::string& want, const std::string& state) {
  if (want.empty()) return true;
  if (want == "pending") return state == "queued" || state == "sent";
  return state == want;
}

// "13 ms", "2.5 s", "42 s".
std::string duration_text(std::int64_t ms) {
  if (ms < 1000) return std::to_string(std::max<std::int64_t>(ms, 0)) + " ms";
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10000 ? "%.1f s" : "%.0f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

// In send order (the daemon pages in message ID order); each recipient by its alias when it has one.
int print_outbox(const global_options& g, const outbox_options& o, nlohmann::json& list,
                 const control::alias_map& aliases, std::size_t unreadable) {
  std::stable_sort(list.begin(), list.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return std::pair(a.value("created_ms", std::int64_t(0)), a.value("message_id", std::string())) <
           std::pair(b.value("created_ms", std::int64_t(0)), b.value("message_id", std::string()));
  });
  std::string to;
  if (!o.to.empty()) {
    auto id = recipient_of(o.to, aliases);
    if (!id) return report(id.err(), g.json);
    to = std::move(*id);
  }
  nlohmann::json kept = nlohmann::json::array();
  for (auto& m : list)
    if ((to.empty() || m.value("recipient", std::string()) == to) && state_matches(o.state, m.value("state", std::string())))
      kept.push_back(std::move(m));
  if (o.last && kept.size() > o.last) kept.erase(kept.begin(), kept.end() - static_cast<std::ptrdiff_t>(o.last));
  list = std::move(kept);
  for (auto& m : list)
    if (auto it = aliases.find(m.value("recipient", std::string())); it != aliases.end()) m["recipient_alias"] = it->second;
  warn_unreadable(unreadable, "outbox");
  if (g.json) {
    nlohmann::json out{{"messages", list}};
    if (unreadable) out["unreadable"] = unreadable;
    print_json(out);
    return exit_ok;
  }
  if (list.empty()) std::cout << (o.to.empty() && o.state.empty() ? "no sent messages\n" : "no sent messages match\n");
  for (auto& m : list) {
    const auto state = m.value("state", std::string());
    const auto attempts = m.value("attempts", 0u);
    std::cout << m.value("message_id", std::string()) << "  " << state << "  to "
              << m.value("recipient_alias", m.value("recipient", std::string())) << "  queued "
              << utc_time(m.value("created_ms", std::int64_t(0)));
    if (state == "delivered")
      std::cout << ", delivered after " << duration_text(m.value("delivered_ms", std::int64_t(0)) - m.value("created_ms", std::int64_t(0)));
    else if (state != "expired")
      std::cout << ", expires " << utc_time(m.value("expires_ms", std::int64_t(0)));
    std::cout << ", " << attempts << (attempts == 1 ? " attempt" : " attempts") << "\n";
    if (auto e = m.find("last_error"); e != m.end() && e->is_string() && !e->get<std::string>().empty())
      // Not always a failure: an attempt that got through says where the message is (a relay's mailbox) or that
      // it is not acknowledged yet.
      std::cout << (state == "expired" ? "  last error: " : "  last attempt: ")
                << terminal_text(e->get<std::string>()) << "\n";
  }
  return exit_ok;
}

} // namespace

void add_outbox_commands(CLI::App& app, global_options& g, int& rc) {
  auto o = std::make_shared<outbox_options>();
  auto* outbox = app.add_subcommand("outbox", "Messages this node sent, with their delivery state");
  outbox->require_subcommand(1);
  outbox->footer("Examples:\n  aqua outbox list\n  aqua outbox list --state pending --to bob");
  auto* list = outbox->add_subcommand("list", "List sent messages: queued, sent, delivered or expired, in send order");
  list->add_option("--to", o->to, "Only messages to this recipient: peer ID (12D3KooW...) or contact alias")
    ->check(non_empty());
  list->add_option("--state", o->state, "Only messages in this state (pending: queued or sent, i.e. not acknowledged yet)")
    ->check(CLI::IsMember({"queued", "sent", "delivered", "expired", "pending"}));
  list->add_option("--last", o->last, "Only the N most recently queued of those (0: all)")->check(whole_number());
  list->footer("Examples:\n  aqua outbox list\n  aqua outbox list --state pending\n  aqua outbox list --to bob --last 5 --json");
  list->callback([&g, &rc, o] {
    nlohmann::json messages = nlohmann::json::array();
    control::alias_map aliases;
    std::size_t unreadable = 0;
    if (auto r = collect(g, messages, aliases, unreadable); !r) {
      rc = report(r.err(), g.json);
      return;
    }
    rc = print_outbox(g, *o, messages, aliases, unreadable);
  });
}

} // namespace aqua::cli
