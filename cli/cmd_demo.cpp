// aqua demo: two identities on one host exchange contact cards and end-to-end
// encrypted messages. Each node is started from its own YAML file over the
// loopback transport plugin; the Agents issue turns this into the
// multi-agent workflow.

#include <chrono>
#include <fstream>
#include <iostream>

#include "aqua/node.hpp"
#include "commands.hpp"
#include "contacts/contact_book.hpp"
#include "identity/key_store.hpp"
#include "output.hpp"

namespace aqua::cli {
namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

std::string node_yaml(const std::string& name, const std::string& listen, const peer_id& peer, const std::string& peer_addr) {
  return "node:\n  name: " + name + "\n  log_level: warn\n"
         "components:\n  identity: {key_file: identity.key}\n  crypto: {}\n"
         "  routing:\n    routes:\n      - peer: " + peer.str() + "\n        address: " + peer_addr + "\n"
         "  relay: {serve: false}\n  mailbox: {send_window: 64}\n"
         "transports:\n  - plugin: loopback\n    listen: [" + listen + "]\n";
}

// What `aqua contacts add <card>` does: verify the card, store it.
result<void> add_contact(const node& to, const std::string& card_text, const std::string& alias) {
  auto book = contact_book::load(to.config().data_dir / contact_book::file_name);
  if (!book) return book.err();
  auto raw = e2ee::card_from_text(card_text);
  if (!raw) return raw.err();
  auto card = e2ee::verify_card(*raw, system_env()->now_unix_ms());
  if (!card) return card.err();
  if (auto r = book->add(*raw, *card, alias, system_env()->now_unix_ms()); !r) return r.err();
  return book->save();
}

result<peer_id> make_identity(const fs::path& dir) {
  if (auto r = ensure_private_dir(dir); !r) return r.err();
  auto kp = keypair::generate();
  if (auto r = write_key_file(dir / key_file_name, kp, true); !r) return r.err();
  return kp.id();
}

int run_demo(const global_options& g, const std::string& work_dir) {
  fs::path base = work_dir.empty() ? fs::temp_directory_path() / ("aqua-demo-" + std::to_string(::getpid())) : fs::path(work_dir);
  auto say = [&](const std::string& line) { if (!g.json) std::cout << line << std::endl; };
  auto t0 = clock_type::now();
  say("== aqua demo: two identities on one host ==");
  auto alice_id = make_identity(base / "alice");
  if (!alice_id) return report(alice_id.err(), g.json);
  auto bob_id = make_identity(base / "bob");
  if (!bob_id) return report(bob_id.err(), g.json);
  say("alice  " + alice_id->str());
  say("bob    " + bob_id->str());
  for (auto [who, me, peer, peer_name] : {std::tuple{"alice", *alice_id, *bob_id, "bob"}, std::tuple{"bob", *bob_id, *alice_id, "alice"}}) {
    (void) me;
    auto file = base / who / config_file_name;
    if (auto r = write_file_atomic(file, node_yaml(who, std::string("/memory/demo-") + who + "-" + std::to_string(::getpid()), peer,
                                                  std::string("/memory/demo-") + peer_name + "-" + std::to_string(::getpid())), 0600); !r)
      return report(r.err(), g.json);
  }
  auto alice_cfg = load_config(base / "alice" / config_file_name);
  if (!alice_cfg) return report(alice_cfg.err(), g.json);
  auto bob_cfg = load_config(base / "bob" / config_file_name);
  if (!bob_cfg) return report(bob_cfg.err(), g.json);
  auto alice = node::start(*alice_cfg);
  if (!alice) return report(alice.err(), g.json);
  auto bob = node::start(*bob_cfg);
  if (!bob) return report(bob.err(), g.json);
  say("started both nodes from YAML (" + (base / "alice" / config_file_name).string() + ", .../bob/config.yaml)");
  say("  actors per node: identity, crypto, routing, relay, mailbox; transport plugin: loopback");
  if (auto r = add_contact(**alice, (*bob)->card(), "bob"); !r) return report(r.err(), g.json);
  if (auto r = add_contact(**bob, (*alice)->card(), "alice"); !r) return report(r.err(), g.json);
  say("exchanged signed contact cards (" + std::to_string((*bob)->card().size()) +
      " chars each): X25519 agreement key + signed prekey + one-time prekeys");

  nlohmann::json exchanges = nlohmann::json::array();
  auto exchange = [&](node& from, node& to, const std::string& from_name, const std::string& to_name,
                      const std::string& text, bool first) -> int {
    auto t = clock_type::now();
    auto id = from.send(to.id(), bytes(text.begin(), text.end()));
    if (!id) return report(id.err(), g.json);
    auto got = to.receive(std::chrono::seconds(5));
    if (!got) return report(got.err(), g.json);
    double ms = ms_since(t);
    std::string body(got->payload.begin(), got->payload.end());
    bool sender_ok = got->sender == from.id();
    say("");
    say(from_name + " -> " + to_name + "  message " + *id + " via " + got->transport);
    say("  sealed end to end by " + from_name + "'s crypto actor: " +
        (first ? std::string("X3DH-style session from ") + to_name + "'s card (no round trip), " : std::string()) +
        "double ratchet, ChaCha20-Poly1305; the transport carried only the envelope");
    say("  " + to_name + " decrypted and authenticated sender " + got->sender.str() + " (" + got->trust + ")" +
        (sender_ok ? "  [ok]" : "  [MISMATCH]"));
    say("  text: \"" + body + "\"  (" + std::to_string(ms).substr(0, 5) + " ms)");
    exchanges.push_back({{"from", from.id().str()}, {"to", to.id().str()}, {"message_id", *id}, {"text", body},
                         {"verified_sender", sender_ok}, {"transport", got->transport}, {"trust", got->trust},
                         {"encryption", "x3dh+double-ratchet/chacha20-poly1305"}, {"ms", ms}});
    return sender_ok && body == text ? exit_ok : exit_failure;
  };
  if (int rc = exchange(**alice, **bob, "alice", "bob", "hello bob, this is alice", true); rc != exit_ok) return rc;
  if (int rc = exchange(**bob, **alice, "bob", "alice", "hi alice, bob here: only you can read this", false); rc != exit_ok) return rc;
  (*alice)->stop();
  (*bob)->stop();
  say("");
  say("done in " + std::to_string(ms_since(t0)).substr(0, 6) + " ms; data dirs under " + base.string());
  if (g.json) print_json({{"alice", alice_id->str()}, {"bob", bob_id->str()}, {"exchanges", exchanges}, {"dir", base.string()}});
  if (work_dir.empty()) {
    std::error_code ec;
    fs::remove_all(base, ec);
  }
  return exit_ok;
}

} // namespace

void add_demo_command(CLI::App& app, global_options& g, int& rc) {
  auto dir = std::make_shared<std::string>();
  auto* demo = app.add_subcommand("demo", "Run the demo: two identities on this host exchange end-to-end encrypted messages");
  demo->add_option("--work-dir", *dir, "Keep the demo's data dirs here (default: a temp dir, removed afterwards)");
  demo->footer("Examples:\n  aqua demo\n  aqua demo --json --work-dir /tmp/aqua-demo");
  demo->callback([&g, &rc, dir] { rc = run_demo(g, *dir); });
}

} // namespace aqua::cli
