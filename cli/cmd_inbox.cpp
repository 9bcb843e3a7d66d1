// aqua inbox list | aqua outbox list: read the node's store directly. While
// `aqua serve` runs it holds the store (errc::store_locked); reading through
// the daemon's control API comes with the `aqua serve` daemon issue.

#include <iostream>

#include "commands.hpp"
#include "delivery/outbox.hpp"
#include "delivery/records.hpp"
#include "identity/key_store.hpp"
#include "output.hpp"
#include "store/store.hpp"

namespace aqua::cli {
namespace {

struct list_options {
  bool unread = false;
  std::size_t limit = 0;
  std::uint64_t since = 0;
};

result<std::unique_ptr<store::db>> open_store(const global_options& g) {
  auto dir = resolve_data_dir(g.dir);
  if (!dir) return dir.err();
  auto db = store::db::open(*dir / store::dir_name, false);
  if (!db && db.err().code() == errc::store_locked)
    return error{errc::store_locked, db.err().message() + "; stop 'aqua serve' to read the store directly"};
  return db;
}

// Printable ASCII (and tabs/newlines) only, so JSON output never meets invalid UTF-8;
// everything is in payload_hex anyway.
bool is_text(const bytes& b) {
  for (auto c : b)
    if (c < 0x09 || (c > 0x0d && c < 0x20) || c >= 0x7f) return false;
  return true;
}

int run_inbox(const global_options& g, const list_options& o) {
  auto db = open_store(g);
  if (!db) return report(db.err(), g.json);
  nlohmann::json list = nlohmann::json::array();
  std::size_t n = 0;
  auto r = (*db)->scan("i/", [&](std::string_view, std::string_view v) {
    auto rec = delivery::in_record::decode(as_bytes(v));
    if (!rec || rec->seq <= o.since || (o.unread && rec->state != delivery::in_state::unread)) return true;
    nlohmann::json j{{"seq", rec->seq}, {"message_id", rec->message_id}, {"sender", rec->sender},
                     {"received_ms", rec->received_ms}, {"state", rec->state == delivery::in_state::unread ? "unread" : "read"},
                     {"trust", rec->trust}, {"quarantined", rec->quarantined}, {"payload_hex", to_hex(rec->payload)}};
    if (is_text(rec->payload)) j["text"] = std::string(rec->payload.begin(), rec->payload.end());
    list.push_back(j);
    return o.limit == 0 || ++n < o.limit;
  });
  if (!r) return report(r.err(), g.json);
  if (g.json) {
    print_json({{"messages", list}});
  } else {
    for (auto& m : list)
      std::cout << m["seq"] << "  " << m["state"].get<std::string>() << "  " << m["sender"].get<std::string>() << "  "
                << (m.contains("text") ? m["text"].get<std::string>() : "<" + std::to_string(m["payload_hex"].get<std::string>().size() / 2) + " bytes>")
                << "\n";
  }
  return exit_ok;
}

int run_outbox(const global_options& g) {
  auto db = open_store(g);
  if (!db) return report(db.err(), g.json);
  nlohmann::json list = nlohmann::json::array();
  auto r = (*db)->scan("o/", [&](std::string_view, std::string_view v) {
    if (auto rec = delivery::out_record::decode(as_bytes(v)))
      list.push_back({{"message_id", rec->message_id}, {"recipient", rec->recipient},
                      {"state", std::string(delivery::to_string(rec->state))}, {"attempts", rec->attempts},
                      {"created_ms", rec->created_ms}, {"expires_ms", rec->expires_ms}, {"delivered_ms", rec->delivered_ms}});
    return true;
  });
  if (!r) return report(r.err(), g.json);
  if (g.json) {
    print_json({{"messages", list}});
  } else {
    for (auto& m : list)
      std::cout << m["message_id"].get<std::string>() << "  " << m["state"].get<std::string>() << "  attempts "
                << m["attempts"] << "  to " << m["recipient"].get<std::string>() << "\n";
  }
  return exit_ok;
}

} // namespace

void add_inbox_commands(CLI::App& app, global_options& g, int& rc) {
  auto o = std::make_shared<list_options>();
  auto* inbox = app.add_subcommand("inbox", "Messages received by this node (read from its store)");
  inbox->require_subcommand(1);
  auto* list = inbox->add_subcommand("list", "List received messages");
  list->add_flag("--unread", o->unread, "Only unread messages");
  list->add_option("--limit", o->limit, "At most N messages");
  list->add_option("--since", o->since, "Only messages after sequence number SEQ");
  list->footer("Examples:\n  aqua inbox list --unread\n  aqua inbox list --json --since 100 --limit 10");
  list->callback([&g, &rc, o] { rc = run_inbox(g, *o); });
  auto* outbox = app.add_subcommand("outbox", "Messages this node sent, with their delivery state");
  outbox->require_subcommand(1);
  outbox->add_subcommand("list", "List sent messages: queued, sent, delivered or expired")->callback([&g, &rc] {
    rc = run_outbox(g);
  });
}

} // namespace aqua::cli
