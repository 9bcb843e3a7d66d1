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
