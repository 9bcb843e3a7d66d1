// aqua inbox list|read|ack|delete|watch: through the
// running daemon's control API when there is one (it holds the store's lock),
// else straight from the store (watch then runs the node itself).

#include <atomic>
#include <algorithm>
#include <charconv>
#include <ctime>
#include <csignal>
#include <iostream>

#include "aqua/node.hpp"
#include "store/engine_store.hpp"

#include "commands.hpp"
#include "node_start.hpp"
#include "contacts/contact_store.hpp"
#include "control/control_json.hpp"
#include "control/control_server.hpp"
#include "daemon_client.hpp"
#include "delivery/message_views.hpp"
#include "delivery/records.hpp"
#include "identity/key_store.hpp"
#include "local_store.hpp"
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
  std::string output;  // read --output: the payload's bytes go to this file ("-": stdout)
};

result<void> list_from_store(const global_options& g, const list_options& o, nlohmann::json& list,
                             std::size_t& unreadable);

nlohmann::json message_json(const delivery::in_record& rec, const control::alias_map& aliases);

// The sender's alias when it has one, else its peer ID.
std::string sender_label(const nlohmann::json& m) {
  return m.value("sender_alias", m["sender"].get<std::string>());
}

// The first `max` characters of UTF-8 `text` (cut before a character, never inside one), and whether it was cut.
std::pair<std::string, bool> preview(const std::string& text, std::size_t max) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80 && chars++ == max) return {text.substr(0, i), true};
  return {text, false};
}

// Topic and text are the sender's choice: shown through terminal_text, one line per message here, the text cut
// to its first 120 characters (`inbox read SEQ` shows it whole).
void print_message_line(const nlohmann::json& m) {
  std::string body;
  if (m.contains("text")) {
    const auto& text = m["text"].get_ref<const std::string&>();
    auto [head, cut] = preview(text, 120);
    body = terminal_text(head, false);
    if (cut) body += "... (" + std::to_string(text.size()) + " bytes: aqua inbox read " + m["seq"].dump() + ")";
  } else {
    body = "<" + std::to_string(m["payload_hex"].get<std::string>().size() / 2) + " bytes>";
  }
  std::cout << m["seq"] << "  " << m["state"].get<std::string>() << "  " << sender_label(m)
            << (m.value("quarantined", false) ? " (unknown sender, quarantined)" : "") << "  "
            << (m.value("topic", "").empty() ? "" : "[" + terminal_text(m["topic"].get<std::string>(), false) + "] ")
            << body << "\n";
}

// read --output FILE: the payload as it was sent (a --file, binary or text), to FILE (mode 0600, replaced
// atomically) or "-".
result<void> write_payload(const nlohmann::json& m, const std::string& output) {
  bytes payload;
  if (m.contains("text")) {
    const auto& t = m["text"].get_ref<const std::string&>();
    payload.assign(t.begin(), t.end());
  } else if (auto raw = from_hex(m.value("payload_hex", std::string()))) {
    payload = std::move(*raw);
  } else {
    return error{errc::bad_frame, "the message's payload_hex is not hex"};
  }
  if (output == "-") {
    std::cout.write(reinterpret_cast<const char*>(payload.data()), static_cast<std::streamsize>(payload.size()));
    std::cout.flush();
    if (!std::cout) return error{errc::io_error, "cannot write the payload to stdout"};
    return ok();
  }
  return write_file_atomic(output, std::string(payload.begin(), payload.end()), 0600);
}

void print_message(const global_options& g, const nlohmann::json& m) {
  if (g.json) {
    print_json(m);
    return;
  }
  std::cout << "from " << sender_label(m) << (m.contains("sender_alias") ? " " + m["sender"].get<std::string>() : "")
            << " (" << m["trust"].get<std::string>()
            << (m.value("quarantined", false) ? ", quarantined" : "") << ")"
            << (m.value("topic", "").empty() ? "" : " topic " + terminal_text(m["topic"].get<std::string>(), false))
            << "\n";
  if (m.contains("text")) std::cout << terminal_text(m["text"].get<std::string>(), true) << "\n";
  else std::cout << "<" << m["payload_hex"].get<std::string>().size() / 2 << " bytes, see --json payload_hex>\n";
}

// read (print + mark read), ack (mark read), delete — on the stored record.
int run_one(const global_options& g, std::uint64_t seq, const std::string& action, const std::string& output) {
  // With --output the message goes to the file (its header to stderr): stdout may be the payload itself ("-").
  auto show = [&](const nlohmann::json& m) -> int {
    if (output.empty()) return print_message(g, m), exit_ok;
    if (auto w = write_payload(m, output); !w) return report(w.err(), g.json);
    if (output != "-" && g.json) print_json({{"seq", m["seq"]}, {"output", output}});
    else if (output != "-")
      std::cerr << "message " << m["seq"] << " from " << sender_label(m) << ": "
                << (m.contains("text") ? m["text"].get_ref<const std::string&>().size()
                                       : m["payload_hex"].get_ref<const std::string&>().size() / 2)
                << " bytes written to " << output << "\n";
    return exit_ok;
  };
  if (auto r = via_daemon(g, {{"cmd", "inbox." + action}, {"seq", seq}})) {
    if (!*r) return report(r->err(), g.json);
    if (action == "read") return show(**r);
    else if (g.json) print_json(**r);
    return exit_ok;
  }
  auto db = open_store(g);
  if (!db) return report(db.err(), g.json);
  if (!*db) return report(error{errc::not_found, "no message with sequence " + std::to_string(seq) +
                                                     " (this node has not run yet: its store is empty)"}, g.json);
  auto key = store::hex_key("i/", seq);
  auto raw = (*db)->get(key);
  if (!raw) return report(raw.err(), g.json);
  if (!raw->has_value()) return report(error{errc::not_found, "no message with sequence " + std::to_string(seq)}, g.json);
  auto rec = delivery::in_record::decode(as_bytes(**raw));
  if (!rec) return report(rec.err(), g.json);
  leveldb::WriteBatch b;
  if (action == "delete") {
    b.Delete(key);
    // The highest number ever given out survives the delete (delivery::inbox_seq_key): the stored mark or the
    // newest record's, whichever is higher.
    std::uint64_t highest = seq;
    auto mark = (*db)->get(delivery::inbox_seq_key);
    if (!mark) return report(mark.err(), g.json);
    if (*mark)
      if (auto v = delivery::decode_inbox_seq(as_bytes(**mark))) highest = std::max(highest, *v);
    auto scanned = (*db)->scan("i/", [&](std::string_view k, std::string_view) {  // i/<16 hex digits of seq>
      std::uint64_t n = 0;
      auto digits = k.substr(2);
      if (std::from_chars(digits.data(), digits.data() + digits.size(), n, 16).ec == std::errc())
        highest = std::max(highest, n);
      return true;
    });
    if (!scanned) return report(scanned.err(), g.json);
    auto enc = delivery::encode_inbox_seq(highest);
    b.Put(delivery::inbox_seq_key, std::string(enc.begin(), enc.end()));
  } else {
    rec->state = delivery::in_state::read;
    auto enc = rec->encode();
    b.Put(key, std::string(enc.begin(), enc.end()));
  }
  if (auto r = (*db)->write(std::move(b)); !r) return report(r.err(), g.json);
  if (action == "read") {
    return show(message_json(*rec, stored_aliases(**db)));
  } else if (g.json) {
    print_json({{"seq", seq}, {action == "delete" ? "deleted" : "acked", true}});
  }
  return exit_ok;
}

// watch: print each new message (one JSON line each with --json: NDJSON) without marking it read, until
// SIGINT/SIGTERM — through the daemon, or running the node itself.
int run_watch(const global_options& g, const std::string& config, std::uint64_t since) {
  if (auto d = connect_daemon(g); d || !no_daemon(d.err())) {
    if (!d) return report(d.err(), g.json);
    std::uint64_t last = since;  // every message printed is above `since`
    auto r = (*d)->stream({{"cmd", "watch"}, {"since", since}}, [&](const nlohmann::json& ev) {
      if (ev.value("event", "") == "message") {
        if (g.json) print_json(ev["message"]);
        else print_message_line(ev["message"]);
        std::cout.flush();
        last = ev["message"].value("seq", last);
      }
      return true;
    });
    // The daemon stopping ends the stream: no daemon (exit 5), and where to resume.
    if (!r && (r.err().code() == errc::connection_closed || r.err().code() == errc::not_running)) {
      auto dir = resolve_data_dir(g.dir);  // the hint names the data dir, as every other hint does
      return report(error{errc::not_running, "the daemon stopped; " +
                                                 (last != since ? "the last message printed was seq " + std::to_string(last)
                                                          : std::string("no message was printed")) +
                                                 ": resume with 'aqua " + (dir ? "--dir " + dir->string() + " " : "") +
                                                 "inbox watch --since " + std::to_string(last) + "'"},
                    g.json, {{"since", last}});
    }
    if (!r) return report(r.err(), g.json);
    return exit_ok;
  }
  auto cfg = load_node_config(g, config);
  if (!cfg) return report(cfg.err(), g.json);
  static std::atomic<bool> stop{false};
  std::signal(SIGINT, [](int) { stop = true; });
  std::signal(SIGTERM, [](int) { stop = true; });
  auto n = start_node_interruptibly(
    *cfg, [] { return stop.load(); },
    [&] {
      if (!g.json) std::cerr << "aqua: stopped while starting the node; nothing was watched\n";
    });
  if (!n) return report(n.err(), g.json);
  // As the daemon's watch: every stored message after `since`, then each new one; nothing is marked read.
  for (std::uint64_t after = since; !stop;) {
    auto batch = (*n)->watch(after, 256, control::watch_batch_bytes, std::chrono::milliseconds(200));  // as the daemon's watch
    if (auto f = (*n)->store_failure()) return report(stopped_by_store_failure("the watch", *f), g.json);
    if (!batch) return report(batch.err(), g.json);
    if (batch->empty()) continue;
    auto contacts = (*n)->contacts();
    const auto names = contacts ? control::aliases_of(*contacts) : control::alias_map{};
    for (auto& m : *batch) {
      after = m.sequence;
      if (g.json) print_json(control::to_json(m, names));
      else print_message_line(control::to_json(m, names));
    }
    std::cout.flush();
  }
  (*n)->stop();
  return exit_ok;
}

// inbox.list through the daemon, page after page ("more"/"next_since"); nullopt without a daemon.
std::optional<result<void>> list_via_daemon(const global_options& g, const list_options& o, nlohmann::json& list) {
  std::uint64_t since = o.since;
  for (bool first = true;; first = false) {
    const std::size_t left = o.limit ? o.limit - list.size() : 0;
    auto r = via_daemon(g, {{"cmd", "inbox.list"}, {"unread", o.unread}, {"limit", left}, {"since", since}});
    if (!r && first) return std::nullopt;
    if (!r) return result<void>(error{errc::not_running, "the daemon stopped while the inbox was being listed"});
    if (!*r) return result<void>(r->err());
    for (auto& m : (**r)["messages"]) list.push_back(std::move(m));
    if (!(**r).value("more", false) || (o.limit && list.size() >= o.limit)) return result<void>(ok());
    const auto next = (**r).value("next_since", std::uint64_t{0});
    if (next <= since) return result<void>(error{errc::bad_frame, "the daemon's inbox.list page did not advance"});
    since = next;
  }
}

int run_inbox(const global_options& g, const list_options& o) {
  nlohmann::json list = nlohmann::json::array();
  std::size_t unreadable = 0;
  if (auto r = list_via_daemon(g, o, list)) {
    if (!*r) return report(r->err(), g.json);
  } else if (auto e = list_from_store(g, o, list, unreadable); !e) {
    return report(e.err(), g.json);
  }
  warn_unreadable(unreadable, "inbox");
  if (g.json) {
    nlohmann::json out{{"messages", list}};
    if (unreadable) out["unreadable"] = unreadable;
    print_json(out);
  } else {
    if (list.empty()) std::cout << (o.unread ? "no unread messages\n" : "no messages\n");
    for (auto& m : list) print_message_line(m);
  }
  return exit_ok;
}

result<void> list_from_store(const global_options& g, const list_options& o, nlohmann::json& list,
                             std::size_t& unreadable) {
  auto db = open_store(g);
  if (!db) return db.err();
  if (!*db) return ok();  // never ran: nothing received
  std::size_t n = 0;
  const auto aliases = stored_aliases(**db);
  auto r = (*db)->scan("i/", [&](std::string_view, std::string_view v) {
    auto rec = delivery::in_record::decode(as_bytes(v));
    if (!rec) return ++unreadable, true;
    if (rec->seq <= o.since || (o.unread && rec->state != delivery::in_state::unread)) return true;
    list.push_back(message_json(*rec, aliases));
    return o.limit == 0 || ++n < o.limit;
  });
  if (!r) return r.err();
  return ok();
}

nlohmann::json message_json(const delivery::in_record& rec, const control::alias_map& aliases) {
  return control::to_json(delivery::to_inbound(rec), aliases);
}

} // namespace

void add_inbox_commands(CLI::App& app, global_options& g, int& rc) {
  auto o = std::make_shared<list_options>();
  auto* inbox = app.add_subcommand("inbox", "Messages received by this node");
  inbox->require_subcommand(1);
  inbox->footer("Examples:\n  aqua inbox list --unread\n  aqua inbox read 42\n  aqua inbox watch --json");
  auto* list = inbox->add_subcommand("list", "List received messages");
  list->add_flag("--unread", o->unread, "Only unread messages");
  list->add_option("--limit", o->limit, "At most N messages (0: no limit)")->check(whole_number());
  list->add_option("--since", o->since, "Only messages after sequence number SEQ")->check(whole_number());
  list->footer("Examples:\n  aqua inbox list --unread\n  aqua inbox list --json --since 100 --limit 10");
  list->callback([&g, &rc, o] { rc = run_inbox(g, *o); });
  for (auto [name, help, examples] :
       {command_doc{"read", "Print message SEQ and mark it read", "Examples:\n  aqua inbox read 42\n  aqua inbox read 42 --json\n  aqua inbox read 42 --output report.pdf"},
        command_doc{"ack", "Mark message SEQ read", "Examples:\n  aqua inbox ack 42\n  aqua inbox ack 42 --json"},
        command_doc{"delete", "Delete message SEQ from the inbox",
            "Its message ID stays in the dedup index: a retransmission is not delivered again.\n"
            "Examples:\n  aqua inbox delete 42\n  aqua inbox delete 42 --json"}}) {
    auto* sub = inbox->add_subcommand(name, help);
    sub->footer(examples);
    sub->add_option("seq", o->seq, "Sequence number (see 'aqua inbox list')")->required()->check(whole_number());
    if (std::string(name) == "read")
      sub->add_option("--output,-o", o->output, "Write the payload's bytes to FILE (mode 0600; - for stdout): a file "
                      "sent with 'aqua send --file', binary or text")->check(non_empty());
    std::string action = name;
    sub->callback([&g, &rc, o, action] { rc = run_one(g, o->seq, action, action == "read" ? o->output : ""); });
  }
  auto* watch = inbox->add_subcommand("watch", "Print new messages as they arrive (NDJSON with --json) until Ctrl-C");
  watch->add_option("--config", o->config, "Node config when no daemon runs (default: <data dir>/config.yaml)");
  watch->add_option("--since", o->since, "Start after sequence number SEQ (default 0: every stored message first)")
    ->check(whole_number());
  watch->footer("Through the running daemon; without one, runs the node itself until Ctrl-C (and holds its store\n"
                "meanwhile: 'aqua serve' and the store-reading commands are refused until it ends). Watching does not\n"
                "mark messages read ('aqua inbox ack SEQ' does).\n"
                "Example:\n  aqua inbox watch --json | while read -r m; do echo \"$m\" | jq .text; done");
  watch->callback([&g, &rc, o] { rc = run_watch(g, o->config, o->since); });
}

} // namespace aqua::cli
