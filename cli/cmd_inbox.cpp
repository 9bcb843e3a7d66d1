// aqua inbox list | aqua outbox list: read the node's store directly. While
// `aqua serve` runs it holds the store (errc::store_locked); reading through
// the daemon's control API comes with the `aqua serve` daemon issue.

#include <atomic>
#include <csignal>
#include <iostream>

#include "aqua/node.hpp"
#include "store/engine_store.hpp"

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
  std::uint64_t seq = 0;
  std::string config;
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

nlohmann::json message_json(const delivery::in_record& rec);

// read (print + mark read), ack (mark read), delete — on the stored record.
int run_one(const global_options& g, std::uint64_t seq, const std::string& action) {
  auto db = open_store(g);
  if (!db) return report(db.err(), g.json);
  auto key = store::hex_key("i/", seq);
  auto raw = (*db)->get(key);
  if (!raw) return report(raw.err(), g.json);
  if (!raw->has_value()) return report(error{errc::not_found, "no message with sequence " + std::to_string(seq)}, g.json);
  auto rec = delivery::in_record::decode(as_bytes(**raw));
  if (!rec) return report(rec.err(), g.json);
  leveldb::WriteBatch b;
  if (action == "delete") {
    b.Delete(key);
  } else {
    rec->state = delivery::in_state::read;
    auto enc = rec->encode();
    b.Put(key, std::string(enc.begin(), enc.end()));
  }
  if (auto r = (*db)->write(std::move(b)); !r) return report(r.err(), g.json);
  if (action == "read") {
    if (g.json) print_json(message_json(*rec));
    else std::cout << rec->sender << "\n" << std::string(rec->payload.begin(), rec->payload.end()) << "\n";
  } else if (g.json) {
    print_json({{"seq", seq}, {action == "delete" ? "deleted" : "acked", true}});
  }
  return exit_ok;
}

// watch: run the node and print each new message as one JSON line (NDJSON),
// marking it read, until SIGINT/SIGTERM.
int run_watch(const global_options& g, const std::string& config) {
  auto cfg = load_node_config(g, config);
  if (!cfg) return report(cfg.err(), g.json);
  static std::atomic<bool> stop{false};
  std::signal(SIGINT, [](int) { stop = true; });
  std::signal(SIGTERM, [](int) { stop = true; });
  auto n = node::start(*cfg);
  if (!n) return report(n.err(), g.json);
  while (!stop) {
    auto m = (*n)->receive(std::chrono::milliseconds(200));
    if (!m) {
      if (m.err().code() == errc::timeout) continue;
      return report(m.err(), g.json);
    }
    delivery::in_record rec;
    rec.seq = m->sequence;
    rec.message_id = m->message_id;
    rec.sender = m->sender.str();
    rec.received_ms = m->received_unix_ms;
    rec.trust = m->trust;
    rec.quarantined = m->quarantined;
    rec.payload = m->payload;
    print_json(message_json(rec));  // NDJSON: one object per line, flushed
  }
  (*n)->stop();
  return exit_ok;
}

int run_inbox(const global_options& g, const list_options& o) {
  auto db = open_store(g);
  if (!db) return report(db.err(), g.json);
  nlohmann::json list = nlohmann::json::array();
  std::size_t n = 0;
  auto r = (*db)->scan("i/", [&](std::string_view, std::string_view v) {
    auto rec = delivery::in_record::decode(as_bytes(v));
    if (!rec || rec->seq <= o.since || (o.unread && rec->state != delivery::in_state::unread)) return true;
    list.push_back(message_json(*rec));
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

nlohmann::json message_json(const delivery::in_record& rec) {
  nlohmann::json j{{"seq", rec.seq}, {"message_id", rec.message_id}, {"sender", rec.sender},
                   {"received_ms", rec.received_ms}, {"state", rec.state == delivery::in_state::unread ? "unread" : "read"},
                   {"trust", rec.trust}, {"quarantined", rec.quarantined}, {"payload_hex", to_hex(rec.payload)}};
  if (is_text(rec.payload)) j["text"] = std::string(rec.payload.begin(), rec.payload.end());
  return j;
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
  for (auto [name, help] : {std::pair{"read", "Print message SEQ and mark it read"},
                            std::pair{"ack", "Mark message SEQ read"},
                            std::pair{"delete", "Delete message SEQ from the inbox"}}) {
    auto* sub = inbox->add_subcommand(name, help);
    sub->add_option("seq", o->seq, "Sequence number (see 'aqua inbox list')")->required();
    std::string action = name;
    sub->callback([&g, &rc, o, action] { rc = run_one(g, o->seq, action); });
  }
  auto* watch = inbox->add_subcommand("watch", "Run the node and print new messages as NDJSON until Ctrl-C");
  watch->add_option("--config", o->config, "Node config (default: <data dir>/config.yaml)");
  watch->footer("Example:\n  aqua inbox watch | while read -r m; do echo \"$m\" | jq .text; done");
  watch->callback([&g, &rc, o] { rc = run_watch(g, o->config); });
  auto* outbox = app.add_subcommand("outbox", "Messages this node sent, with their delivery state");
  outbox->require_subcommand(1);
  outbox->add_subcommand("list", "List sent messages: queued, sent, delivered or expired")->callback([&g, &rc] {
    rc = run_outbox(g);
  });
}

} // namespace aqua::cli
