#pragma once
// Shared by the whole-node tests (node_test.cpp, node_batching_test.cpp):
// data dirs from YAML, contacts, and parties outside any node.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "aqua/node.hpp"
#include "contacts/contact_book.hpp"
#include "delivery/records.hpp"
#include "e2ee/own_card.hpp"
#include "identity/key_store.hpp"
#include "plugin/plugin_loader.hpp"
#include "store/engine_store.hpp"
#include "support/eventually.hpp"
#include "support/test_dirs.hpp"

namespace aqua::test::node_fixture {

using namespace std::chrono_literals;

inline keypair seed_key(std::uint8_t b) { return keypair::from_seed(bytes(32, b)).value(); }

// Lays out a data dir holding `yaml` as config.yaml and the key of seed `seed`.
inline node_config make_node_dir(const test::temp_dir& tmp, const std::string& name, const std::string& yaml, std::uint8_t seed) {
  auto dir = tmp.path() / name;
  EXPECT_TRUE(ensure_private_dir(dir));
  EXPECT_TRUE(write_key_file(dir / key_file_name, seed_key(seed), true));
  test::write_text(dir / config_file_name, yaml);
  auto cfg = load_config(dir / config_file_name);
  EXPECT_TRUE(cfg) << (cfg ? "" : cfg.err().what());
  return *cfg;
}

inline std::string read_file(const std::string& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline std::string yaml_for(const std::string& listen, const std::string& routes, bool serve = false) {
  // A serving node also runs the circuit relay v2 server, which needs an address (any port on loopback).
  return "components:\n  routing:\n    routes: [" + routes + "]\n  relay: {serve: " +
         (serve ? "true, listen: [/ip4/127.0.0.1/tcp/0]" : "false") + "}\ntransports:\n  - plugin: loopback\n    listen: [" + listen + "]\n";
}

// A node whose only transport is relay_v2 through `relay` (a circuit listen address there).
inline std::string relay_only_yaml(const std::string& relay) {
  return "components: {}\ntransports:\n  - plugin: relay_v2\n    listen: [/p2p-circuit]\n    settings:\n      relays: " +
         relay + "\n";
}

inline std::string route(std::uint8_t seed, const std::string& addr) {
  return "{peer: " + seed_key(seed).id().str() + ", address: " + addr + "}";
}

inline std::string text(const bytes& b) { return {b.begin(), b.end()}; }

// Counters updated by another actor settle a moment after the message they
// count has been delivered: poll them (bounded).
using test::eventually;

// Adds `card_text` to `n`'s contacts with a trust state (as `aqua contacts add` would).
inline void add_contact(node& n, const std::string& card_text, trust_state trust = trust_state::unverified) {
  auto added = n.add_contact(card_text);
  ASSERT_TRUE(added) << added.err().what();
  ASSERT_TRUE(n.set_contact_trust(added->id.str(), std::string(to_string(trust))));
}

// Both nodes learn each other's card (as `aqua contacts add` would).
inline void introduce(node& a, node& b) {
  add_contact(a, b.card());
  add_contact(b, a.card());
}

// bob (seed 1) listening on /memory/<tag>-bob and alice (seed 0) on
// /memory/<tag>-alice with a route to him, started and introduced. Either is
// null if it did not start (the failure is recorded): ASSERT on both.
struct node_pair {
  std::unique_ptr<node> alice, bob;
};
inline node_pair start_introduced_pair(const test::temp_dir& tmp, const std::string& tag) {
  node_pair p;
  auto bob = node::start(make_node_dir(tmp, "bob", yaml_for("/memory/" + tag + "-bob", ""), 1));
  auto alice = node::start(
    make_node_dir(tmp, "alice", yaml_for("/memory/" + tag + "-alice", route(1, "/memory/" + tag + "-bob")), 0));
  EXPECT_TRUE(bob) << bob.err().what();
  EXPECT_TRUE(alice) << alice.err().what();
  if (!bob || !alice) return p;
  p.bob = std::move(*bob);
  p.alice = std::move(*alice);
  introduce(*p.alice, *p.bob);
  return p;
}

// A party outside any node: its own engine and signed card.
struct outsider {
  keypair kp;
  std::shared_ptr<e2ee::engine> engine;
  std::string card;
  explicit outsider(std::uint8_t seed) : kp(seed_key(seed)) {
    engine = std::make_shared<e2ee::engine>(e2ee::engine::create(kp.pub(), system_env()));
    auto c = e2ee::make_own_card(*engine, [this](bytes_view m) { return kp.sign(m); }, {}, {}, 3600 * 1000);
    card = e2ee::card_to_text(*c);
  }
  bytes seal_for(node& n, const std::string& body, std::uint8_t id) {
    auto card_bytes = e2ee::card_from_text(n.card()).value();
    auto their = e2ee::verify_card(card_bytes, system_env()->now_unix_ms()).value();
    std::array<std::uint8_t, 16> mid{};
    mid[0] = id;
    mid[1] = kp.id().to_bytes()[10];
    return *engine->seal(n.id(), engine->has_session(n.id()) ? nullptr : &their, delivery::frame_message(as_bytes(body)), mid,
                         system_env()->now_unix_ms() + 60000);
  }
};

// A raw loopback connection into a node, bypassing every actor.
struct raw_link {
  std::shared_ptr<transport> t;
  std::shared_ptr<connection> conn;
  explicit raw_link(const std::string& addr) {
    transport_config tc;
    tc.plugin = tc.name = "loopback";
    t = *plugin_loader({test::plugin_build_dir()}).load_transport(tc);
    struct ignore : transport_observer {
      void on_incoming(std::shared_ptr<connection>) override {}
    };
    t->start(std::make_shared<ignore>(), nullptr);
    conn = *t->dial(addr);
  }
  ~raw_link() { t->stop(); }
};


} // namespace aqua::test::node_fixture
