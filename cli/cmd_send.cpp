// aqua send | aqua status: through the daemon's control API.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "commands.hpp"
#include "control/control_server.hpp"
#include "core/bounded_read.hpp"
#include "core/utf8.hpp"
#include "daemon_client.hpp"
#include "e2ee/card.hpp"
#include "e2ee/envelope.hpp"
#include "identity/key_store.hpp"
#include "output.hpp"

namespace aqua::cli {
namespace {

struct send_options {
  std::string to;
  std::string text;
  std::string file;
  std::string ttl;
  std::string topic;
  std::string message_id;
  std::string timeout = "30s";
  bool wait = false;
  bool text_given = false;  // "" given on the command line, not left out
  bool timeout_given = false;
};

// Ctrl-C (or SIGTERM) during `send --wait`: the message may be queued already, and the user needs its ID to check
// on it or retry it once (it left with exit 130 and said nothing). The note is made before the wait, so the
// handler only writes it (async-signal-safe) and exits.
std::string interrupt_note;
bool interrupt_note_on_stdout = false;

extern "C" void on_interrupt(int sig) {
  const int fd = interrupt_note_on_stdout ? STDOUT_FILENO : STDERR_FILENO;
  for (std::size_t done = 0; done < interrupt_note.size();) {
    const auto n = ::write(fd, interrupt_note.data() + done, interrupt_note.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::_exit(128 + sig);
}

void arm_interrupt_note(const std::string& id, bool json) {
  const std::string text = "interrupted while waiting for the ack of message " + id + ": it may be queued (see 'aqua "
                           "outbox list'); retry with --message-id " + id + " to send it at most once";
  // --json: the error object of a timeout (the wait ended without the ack), with the message ID to retry with.
  interrupt_note = json ? nlohmann::json{{"error", {{"code", "timeout"}, {"message", text}, {"message_id", id}}}}.dump() + "\n"
                        : "aqua: " + text + "\n";
  interrupt_note_on_stdout = json;
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

int run_send(const global_options& g, const send_options& o) {
  if (!o.text.empty() && !o.file.empty())
    return report(error{errc::invalid_argument, "give the message as text or --file, not both"}, g.json);
  if (o.text.empty() && o.file.empty() && !o.text_given && o.topic.empty())
    return report(error{errc::invalid_argument,
                        "nothing to send: give text, --file F, or - to read stdin (or only --topic: an empty message)"},
                  g.json);
  std::string body = o.text;
  // The control API carries the payload as hex on one line of at most max_line_bytes.
  constexpr std::size_t max_body = control::max_line_bytes / 2 - 4096;
  if (o.text == "-" || !o.file.empty()) {
    auto read = o.text == "-" ? detail::read_bounded(std::cin, max_body, "the message on stdin", errc::frame_too_large)
                              : detail::read_file_bounded(o.file, max_body, "--file '" + o.file + "'", errc::frame_too_large);
    if (!read && read.err().code() == errc::frame_too_large)  // a node takes far less: say what it takes
      return report(error{errc::frame_too_large, read.err().message() + ", more than the control API carries; a node "
                                                   "takes at most crypto.max_frame_bytes (1 MiB by default) of "
                                                   "message and topic"},
                    g.json);
    if (!read) return report(read.err(), g.json);
    body = std::move(*read);
  }
  // An empty message is mostly a mistake (an unset shell variable, a command that printed nothing); with a
  // topic it is a signal, and the API carries it.
  if (body.empty() && o.topic.empty()) {
    const std::string from = o.text == "-" ? "stdin is" : !o.file.empty() ? "--file '" + o.file + "' is" : "the text is";
    return report(error{errc::invalid_argument, "nothing to send: " + from + " empty (give --topic to send an empty message)"},
                  g.json);
  }
  nlohmann::json req{{"cmd", "send"}, {"to", o.to}, {"payload_hex", to_hex(as_bytes(body))}};
  if (!o.ttl.empty()) {
    auto ttl = parse_duration_ms(o.ttl, "--ttl");
    if (!ttl) return report(ttl.err(), g.json);
    // The control API counts whole seconds and reads 0 as "the config's default": refuse what would round to it.
    if (*ttl < 1000) return report(error{errc::invalid_argument, "--ttl '" + o.ttl + "' is less than 1s"}, g.json);
    if (*ttl > 365ull * 86'400'000)
      return report(error{errc::invalid_argument, "--ttl '" + o.ttl + "' is more than a year (365d)"}, g.json);
    req["ttl_s"] = (*ttl + 999) / 1000;
  }
  auto timeout = parse_duration_ms(o.timeout, "--timeout");
  if (!timeout) return report(timeout.err(), g.json);
  if (o.timeout_given && !o.wait)
    return report(error{errc::invalid_argument, "--timeout is how long --wait waits for the ack: give --wait too"},
                  g.json);
  if (*timeout > 365ull * 86'400'000)
    return report(error{errc::invalid_argument, "--timeout '" + o.timeout + "' is more than a year (365d)"}, g.json);
  if (o.wait && *timeout == 0)
    return report(error{errc::invalid_argument, "--timeout '" + o.timeout + "' is zero: --wait would give up at once"},
                  g.json);
  if (!o.message_id.empty() && (o.message_id.size() != 32 ||
                                o.message_id.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos))
    return report(error{errc::invalid_argument,
                        "--message-id '" + o.message_id + "': expected 32 hex digits (16 bytes), e.g. from a previous "
                        "send's output"},
                  g.json);
  // The control API carries the topic as a JSON string: bytes that are not UTF-8 would arrive replaced (U+FFFD).
  for (std::size_t i = 0; i < o.topic.size();) {
    const auto c = static_cast<std::uint8_t>(o.topic[i]);
    const auto n = c < 0x80 ? 1 : detail::utf8_sequence(reinterpret_cast<const std::uint8_t*>(o.topic.data()) + i,
                                                        o.topic.size() - i, /*accept_c1=*/true);
    if (n == 0)
      return report(error{errc::invalid_argument, "--topic is not UTF-8 text (byte " + std::to_string(i) +
                                                      "): a topic travels as text"},
                    g.json);
    i += n;
  }
  if (!o.topic.empty()) req["topic"] = o.topic;
  // The CLI names the message itself, so that a daemon that dies (or stops answering) while it handles the
  // request can still be retried without a second copy: the error says which ID to retry with.
  const auto fresh = e2ee::message_id_or_random({});
  const auto id = o.message_id.empty() ? to_hex(bytes_view(fresh.data(), fresh.size())) : o.message_id;
  req["message_id"] = id;
  if (o.wait) {
    req["wait"] = true;
    req["timeout_ms"] = *timeout;
  }
  auto d = connect_daemon(g);
  if (!d) return report(d.err(), g.json);
  if (o.wait) arm_interrupt_note(id, g.json);
  auto t0 = std::chrono::steady_clock::now();
  const auto wall0 = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  auto r = (*d)->call(req);
  if (!r) {
    const auto& e = r.err();
    // Failures after which the message may be in the outbox (a wait that ended, a daemon that went away) carry
    // its ID as a field too, so a script need not parse the message to check on it or retry it.
    const auto c = e.code();
    const bool maybe_queued =
      c == errc::connection_closed || c == errc::timeout || c == errc::message_expired || c == errc::not_running;
    const auto extra = maybe_queued ? nlohmann::json{{"message_id", id}} : nlohmann::json();
    if ((c == errc::connection_closed || c == errc::timeout) && e.message().find(id) == std::string::npos)
      return report(error{c, e.message() + " (the message may have been queued as " + id +
                               ": see 'aqua outbox list'; retry with --message-id " + id + " to send it at most once)"},
                    g.json, extra);
    return report(e, g.json, extra);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  if (r->value("state", "") == "expired")  // a retry of a message that expired: nothing was sent
    return report(error{errc::message_expired, "message " + id + " expired before " + r->value("recipient", "") +
                                                  " acknowledged it: a retry does not send it again (send it without "
                                                  "--message-id for a new one)"},
                  g.json, {{"message_id", id}});
  if (g.json) {
    print_json(*r);
  } else {
    // The recipient as the user named it: an alias with its peer ID, or the peer ID.
    const auto peer = r->value("recipient", "");
    const auto who = o.to == peer ? peer : terminal_text(o.to) + " (" + peer + ")";
    // A retry (--message-id) answers with the message's current record: say where it is.
    const auto state = r->value("state", "");
    const bool retry = !o.message_id.empty();
    const bool earlier = state == "delivered" && r->value("delivered_ms", std::int64_t{0}) < wall0;
    if (retry && earlier)
      std::cout << "already delivered " << r->value("message_id", "") << " to " << who << " (not sent again)\n";
    else if (o.wait)
      std::cout << "delivered " << r->value("message_id", "") << " to " << who << " (acknowledged after " << ms << " ms)\n";
    else if (retry && r->contains("attempts"))
      std::cout << "still pending " << r->value("message_id", "") << " for " << who << " (a retry: nothing sent again; "
                << r->value("attempts", 0) << " attempts so far"
                << (r->value("last_error", "").empty() ? "" : ", last error: " + terminal_text(r->value("last_error", "")))
                << ")\n";
    else
      std::cout << "queued " << r->value("message_id", "") << " for " << who
                << " (see 'aqua outbox list'; --wait waits for the recipient's ack)\n";
    if (r->value("card_found", false))
      std::cout << "found " << peer << "'s card on a relay and added it as an unverified contact (compare safety codes "
                << "with 'aqua contacts verify " << peer << "')\n";
    if (r->value("card_refreshed", false))
      std::cout << "the stored card of " << peer << " had expired: replaced by its current card from a relay (alias and "
                << "trust kept)\n";
  }
  return exit_ok;
}

int run_status(const global_options& g) {
  auto d = connect_daemon(g);
  if (!d) {
    if (!no_daemon(d.err())) return report(d.err(), g.json);
    auto dir = resolve_data_dir(g.dir);
    std::string id, blocker;
    if (dir) {
      // What 'aqua serve' would fail on, said now rather than after the user follows the hint.
      auto kp = read_identity(*dir);
      if (kp) id = kp->id().str();
      else if (std::filesystem::exists(*dir)) blocker = kp.err().what();
      if (auto cfg = load_node_config(g, ""); !cfg && blocker.empty() && kp) blocker = cfg.err().what();
    }
    if (g.json) {
      auto at = paths_of(g);
      nlohmann::json out{{"running", false}, {"peer_id", id},
                         {"data_dir", at ? std::filesystem::absolute(at->data).lexically_normal().string() : ""},
                         {"hint", d.err().message()}};
      if (!blocker.empty()) out["serve_would_fail"] = blocker;
      print_json(out);
    } else {
      std::cout << "daemon: not running\n" << (id.empty() ? "" : "peer id: " + id + "\n") << d.err().message() << "\n";
      if (!blocker.empty()) std::cout << "but 'aqua serve' would fail now: " << terminal_text(blocker) << "\n";
    }
    return exit_no_daemon;
  }
  auto st = (*d)->call({{"cmd", "status"}});
  if (!st) return report(st.err(), g.json);
  (*st)["running"] = true;
  if (g.json) {
    print_json(*st);
    return exit_ok;
  }
  std::cout << "daemon: running (" << st->value("name", "") << ", data dir " << st->value("data_dir", "") << ")\n"
            << "peer id: " << st->value("peer_id", "") << "\n";
  // Our card: when it expires and when the daemon renews it (half its validity; docs/protocol/cards.md, "Renewal").
  if (auto raw = e2ee::card_from_text(st->value("card", std::string())))
    if (auto c = e2ee::decode_card(*raw))
      std::cout << "card: signed prekey " << c->signed_prekey_id << ", valid until " << utc_time(c->expires_ms)
                << ", renewed by the daemon from " << utc_time(c->created_ms + (c->expires_ms - c->created_ms) / 2)
                << "\n";
  for (auto& a : (*st)["listen"]) std::cout << "listening: " << a.get<std::string>() << "\n";
  // Relay reservations (relay_v2): "relay <address>" -> reserved | connected, not reserved | not connected; and
  // whether our card is published there ("relay <address> card").
  auto card_key = [](const std::string& k) { return k.rfind("relay ", 0) == 0 && k.size() > 5 && k.ends_with(" card"); };
  for (auto& t : (*st)["transports"])
    for (auto& kv : t["details"])
      if (kv.size() == 2 && kv[0].is_string() && kv[1].is_string() &&
          (control::is_relay_state_key(kv[0].get<std::string>()) || card_key(kv[0].get<std::string>())))
        std::cout << kv[0].get<std::string>() << ": " << kv[1].get<std::string>() << "\n";
  std::cout << "connections: " << (*st)["connections"] << "\n"
            << "frames sent/received/rejected/forwarded: " << (*st)["frames_sent"] << "/" << (*st)["frames_received"]
            << "/" << (*st)["frames_rejected"] << "/" << (*st)["frames_forwarded"] << "\n"
            << "queues: inbox unread " << (*st)["inbox_unread"] << ", outbox pending " << (*st)["outbox_pending"]
            << ", frames waiting for a transport " << (*st)["frames_waiting"] << " (" << (*st)["connections_blocked"]
            << " connections blocked), deposited on relay mailboxes for offline peers since start " << (*st)["frames_deposited"] << "\n";
  if (auto f = st->find("store_failure"); f != st->end() && f->is_string())
    std::cout << "store: FAILED, the node takes no more writes until it is restarted: " << f->get<std::string>() << "\n";
  if (auto r = st->find("relay"); r != st->end() && r->value("serving", false)) {
    for (auto& a : (*r)["addresses"]) std::cout << "relay server: " << a.get<std::string>() << "\n";
    std::cout << "relay: " << (*r)["connections"] << " connections, " << (*r)["reservations"] << " reservations, "
              << (*r)["circuits"] << " circuits open, " << (*r)["bytes_relayed"] << " bytes relayed; refused: "
              << (*r)["reservations_refused"] << " reservations, " << (*r)["connects_refused"] << " connects; "
              << (*r)["circuits_limited"] << " circuits reset at a limit\n";
    if (auto m = r->find("mailbox"); m != r->end() && m->value("serving", false))
      std::cout << "relay mailbox: " << (*m)["held"] << " envelopes (" << (*m)["held_bytes"] << " bytes) held, recipients: "
                << (*m)["recipients"] << "; since start " << (*m)["stored"] << " stored, "
                << (*m)["delivered"] << " delivered, " << (*m)["expired"] << " expired, " << (*m)["refused"]
                << " refused, " << (*m)["duplicates"] << " duplicates\n";
    if (auto c = r->find("card_directory"); c != r->end() && c->value("serving", false))
      std::cout << "relay card directory: " << (*c)["cards"] << " cards\n";
  }
  return exit_ok;
}

} // namespace

result<std::uint64_t> parse_duration_ms(const std::string& text, const std::string& what) {
  std::size_t pos = 0;
  std::uint64_t n = 0;
  try {
    n = std::stoull(text, &pos);
  } catch (...) {
    pos = 0;
  }
  auto bad = error{errc::invalid_argument, what + " '" + text + "': expected a duration like 30s, 5m, 2h or 7d (a bare number is seconds; ms also works)"};
  if (pos == 0 || text[0] == '-') return bad;
  auto unit = text.substr(pos);
  std::uint64_t mult = 0;
  if (unit == "ms") mult = 1;
  else if (unit.empty() || unit == "s") mult = 1000;
  else if (unit == "m") mult = 60'000;
  else if (unit == "h") mult = 3'600'000;
  else if (unit == "d") mult = 86'400'000;
  else return bad;
  if (n > 10ull * 365 * 86'400'000 / mult) return error{errc::invalid_argument, what + " '" + text + "' is too long"};
  return n * mult;
}

void add_send_commands(CLI::App& app, global_options& g, int& rc) {
  auto o = std::make_shared<send_options>();
  auto* send = app.add_subcommand("send", "Send an end-to-end encrypted message (through the running daemon)");
  send->add_option("to", o->to, "Recipient: peer ID (12D3KooW...) or contact alias")->required()->check(non_empty());
  send->add_option("text", o->text, "Message text, or - to read it from stdin");
  send->add_option("--file", o->file, "Send the contents of file F (at most crypto.max_frame_bytes, 1 MiB by default; with a topic, the two "
                   "together at most 1 byte less)");
  send->add_option("--ttl", o->ttl, "Give up delivering after this long (e.g. 30s, 5m, 2d; default: the config's)")
    ->check(non_empty());
  send->add_flag("--wait", o->wait, "Wait for the recipient's authenticated delivery ack");
  send->add_option("--timeout", o->timeout, "With --wait: how long to wait (default 30s; exit 6 after)");
  send->add_option("--topic", o->topic, "A topic label, up to 255 bytes, encrypted with the message");
  send->add_option("--message-id", o->message_id, "32 hex digits: makes retrying the command safe (sent once; the same ID with another recipient, text or topic is refused)")
    ->check(non_empty());
  send->footer(
    "Examples:\n  aqua send 12D3KooWAbc... \"hello\"\n  aqua send bob --topic research --wait \"here are the findings\"\n"
    "  aqua send bob --file report.pdf --ttl 2d\n  echo '{\"q\":1}' | aqua send bob - --json\n"
    "Needs a running daemon ('aqua serve'); without one it exits with code 5 and says how to start it.\n"
    "A first message to a peer ID that is no contact looks its card up on the daemon's relays first (up to 12 s,\n"
    "besides --timeout) and adds it as an unverified contact (docs/protocol/card-directory.md).");
  send->callback([&g, &rc, o, send] {
    o->text_given = send->get_option("text")->count() > 0;
    o->timeout_given = send->get_option("--timeout")->count() > 0;
    rc = run_send(g, *o);
  });
  auto* status = app.add_subcommand("status", "The daemon's identity, listen addresses, connections and queues");
  status->footer("Examples:\n  aqua status\n  aqua status --json | jq .connections\nExit code 5 when no daemon runs.");
  status->callback([&g, &rc] { rc = run_status(g); });
}

} // namespace aqua::cli
