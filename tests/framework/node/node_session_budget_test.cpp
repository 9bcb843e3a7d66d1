// A live connection is authenticated to one peer (or bound to it once an
// envelope from it opened); every new session that arrives on it costs the
// node an X3DH. Past the peer's budget (engine_limits, 32 a second) such
// envelopes are refused unopened — nothing is lost: the sender's outbox sends
// them again, and then they open.
#include "node_fixture.hpp"

using namespace aqua;
using namespace aqua::test::node_fixture;

TEST(node_session_budget, new_sessions_past_the_budget_of_a_connection_open_when_sent_again) {
  test::temp_dir tmp("node-budget");
  auto bob = node::start(make_node_dir(tmp, "bob", read_file(AQUA_SOURCE_DIR "/configs/two-nodes/bob.yaml"), 1));
  ASSERT_TRUE(bob) << bob.err().what();
  raw_link link("/memory/two-nodes-bob");
  outsider alice(2);
  ASSERT_TRUE(eventually([&] { return link.conn->send(alice.seal_for(**bob, "alice", 1)).has_value(); }));
  auto first = (*bob)->receive(10s);
  ASSERT_TRUE(first) << first.err().what();  // the connection is now bound to alice
  // Alice's connection carries the first messages of 40 other parties, sealed beforehand so they arrive in a
  // burst: 32 fit the budget (a few more may, as it refills at 32 a second).
  constexpr std::size_t n = 40;
  std::vector<bytes> firsts;
  for (std::uint8_t i = 0; i < n; ++i) firsts.push_back(outsider(10 + i).seal_for(**bob, "party " + std::to_string(i), 1));
  auto send_all = [&] {
    for (auto& f : firsts) ASSERT_TRUE(eventually([&] { return link.conn->send(f).has_value(); }));
  };
  send_all();
  ASSERT_TRUE(eventually([&] {
    auto s = (*bob)->status();
    return s && s->messages_received + s->frames_rejected == 1 + n;
  }, 20s));
  const auto rejected = (*bob)->status()->frames_rejected;
  EXPECT_GE(rejected, 4u) << "the budget did not hold";
  EXPECT_LE(rejected, n - 32) << "refused within the budget";
  // A second later the budget has refilled: sent again, the refused ones open; the rest are duplicates, acked
  // again and not delivered twice.
  std::this_thread::sleep_for(1100ms);
  send_all();
  ASSERT_TRUE(eventually([&] { return (*bob)->status()->messages_received == 1 + n; }, 20s))
    << (*bob)->status()->messages_received << " of " << 1 + n;
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ((*bob)->status()->messages_received, 1 + n);
  EXPECT_EQ((*bob)->status()->frames_rejected, rejected);
}
