// A backlog queued for an offline peer, longer than a receiver remembers gaps
// (sessions.md: max_missing, max_skip): only a send window of it is sealed
// ahead of time, so whatever is sealed later (an ack) cannot jump over the
// rest (delivery.md, "Sealed when the window opens").
#include "node_fixture.hpp"

using namespace aqua;
using namespace aqua::test::node_fixture;

TEST(node, a_backlog_longer_than_the_receivers_gap_memory_arrives_when_the_peer_speaks_first) {
  test::temp_dir tmp("node");
  auto b_cfg = make_node_dir(tmp, "bob", yaml_for("/memory/backlog-bob", route(0, "/memory/backlog-alice")), 1);
  auto alice = node::start(make_node_dir(tmp, "alice", yaml_for("/memory/backlog-alice", route(1, "/memory/backlog-bob")), 0));
  ASSERT_TRUE(alice) << alice.err().what();
  {
    auto bob = node::start(b_cfg);
    ASSERT_TRUE(bob) << bob.err().what();
    introduce(**alice, **bob);
    ASSERT_TRUE((*alice)->send(seed_key(1).id(), bytes{'h', 'i'}));  // a session both ways
    ASSERT_TRUE((*bob)->receive(10s));
    ASSERT_TRUE((*bob)->send(seed_key(0).id(), bytes{'h', 'o'}));
    ASSERT_TRUE((*alice)->receive(10s));
    ASSERT_TRUE(eventually([&] { return (*alice)->status()->outbox_pending == 0u && (*bob)->status()->outbox_pending == 0u; }));
  }  // bob goes offline
  constexpr int backlog = 1500;  // > max_missing (1000) and max_skip (1000)
  std::vector<send_ticket> tickets;
  for (int i = 0; i < backlog; ++i) {
    std::string body = "backlog " + std::to_string(i);
    tickets.push_back((*alice)->send_async(seed_key(1).id(), bytes(body.begin(), body.end()), {}));
  }
  for (auto& t : tickets) ASSERT_TRUE(t.wait(30s));
  auto bob = node::start(b_cfg);
  ASSERT_TRUE(bob) << bob.err().what();
  // bob speaks first: alice's ack of it is sealed after everything she queued.
  auto first = (*bob)->send(seed_key(0).id(), bytes{'b', 'a', 'c', 'k'});
  ASSERT_TRUE(first) << first.err().what();
  ASSERT_TRUE((*alice)->receive(10s));
  std::set<std::string> got;
  for (int i = 0; i < backlog; ++i) {
    auto m = (*bob)->receive(30s);
    ASSERT_TRUE(m) << "after " << got.size() << " of " << backlog << ": " << m.err().what();
    EXPECT_TRUE(got.insert(test::node_fixture::text(m->payload)).second) << "twice: " << text(m->payload);
  }
  EXPECT_EQ(got.size(), static_cast<std::size_t>(backlog));
  EXPECT_FALSE((*bob)->receive(300ms));
  EXPECT_TRUE(eventually([&] { return (*alice)->status()->outbox_pending == 0u; }));
}

TEST(node, a_deferred_message_that_can_no_longer_be_sealed_ends_as_expired_at_once) {
  test::temp_dir tmp("node");
  auto yaml = yaml_for("/memory/giveup-alice", route(1, "/memory/giveup-bob"));
  yaml.insert(yaml.find("components:\n") + 12, "  mailbox: {send_window: 1}\n");
  auto alice = node::start(make_node_dir(tmp, "alice", yaml, 0));
  ASSERT_TRUE(alice) << alice.err().what();
  std::string bob_card;
  {
    auto bob = node::start(make_node_dir(tmp, "bob", yaml_for("/memory/giveup-bob", ""), 1));
    ASSERT_TRUE(bob) << bob.err().what();
    bob_card = (*bob)->card();
  }  // bob is offline from here on
  add_contact(**alice, bob_card);
  send_options short_lived;
  short_lived.ttl_ms = 800;
  ASSERT_TRUE((*alice)->send(seed_key(1).id(), bytes{'1'}, short_lived));  // sealed: it fills the window
  auto deferred = (*alice)->send(seed_key(1).id(), bytes{'2'});             // waits unsealed behind it
  ASSERT_TRUE(deferred) << deferred.err().what();
  ASSERT_TRUE((*alice)->set_contact_trust(seed_key(1).id().str(), "blocked"));
  // The first expires, the second enters the window, its seal fails (blocked): given up at once, not after a day.
  auto outcome = (*alice)->await_outcome(*deferred, 10s);
  ASSERT_TRUE(outcome) << outcome.err().what();
  EXPECT_EQ(outcome->state, "expired");
  EXPECT_EQ((*alice)->status()->outbox_pending, 0u);
}

TEST(node, a_message_too_large_to_seal_is_refused_when_sent) {
  test::temp_dir tmp("node");
  auto p = start_introduced_pair(tmp, "toolarge");
  ASSERT_TRUE(p.alice && p.bob);
  send_options o;
  o.topic = "t";
  auto r = p.alice->send(seed_key(1).id(), bytes((1u << 20) - 1, 'x'), o);  // 1 MiB - 1 + a 1-byte topic + framing
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::frame_too_large);
  // The limit with its value and the byte a topic costs: "may take 1048575 bytes" alone read as if that were it.
  EXPECT_NE(r.err().message().find(" is 1 byte too large"), std::string::npos) << r.err().message();
  EXPECT_NE(r.err().message().find("payload and topic together may take 1048575 bytes (crypto.max_frame_bytes "
                                   "1048576, less 1 byte for the topic's length)"),
            std::string::npos)
    << r.err().message();
  EXPECT_TRUE(p.alice->send(seed_key(1).id(), bytes(1000, 'x'), o));
  auto untitled = p.alice->send(seed_key(1).id(), bytes((1u << 20) + 1, 'x'));
  ASSERT_FALSE(untitled);
  EXPECT_NE(untitled.err().message().find("payload and topic together may take 1048576 bytes (crypto.max_frame_bytes "
                                          "1048576)"),
            std::string::npos)
    << untitled.err().message();
  EXPECT_TRUE(p.alice->send(seed_key(1).id(), bytes(1u << 20, 'x')));
}
