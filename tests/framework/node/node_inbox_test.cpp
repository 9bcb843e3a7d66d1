// Inbox sequence numbers (node.hpp, docs/storage.md "meta/inbox_seq"): never
// given out twice, also when the newest message was deleted before a restart.
#include "node_fixture.hpp"

using namespace aqua;
using namespace aqua::test::node_fixture;

TEST(node, a_deleted_newest_message_keeps_its_number_across_a_restart) {
  test::temp_dir tmp("node");
  auto a_cfg = make_node_dir(tmp, "alice", yaml_for("/memory/sq-alice", route(1, "/memory/sq-bob")), 0);
  auto b_cfg = make_node_dir(tmp, "bob", yaml_for("/memory/sq-bob", ""), 1);
  std::uint64_t newest = 0;
  {
    auto bob = node::start(b_cfg);
    auto alice = node::start(a_cfg);
    ASSERT_TRUE(bob && alice);
    introduce(**alice, **bob);
    for (char c : {'1', '2', '3'}) {
      ASSERT_TRUE((*alice)->send((*bob)->id(), bytes{static_cast<std::uint8_t>(c)}));
      auto got = (*bob)->receive(5s);
      ASSERT_TRUE(got) << got.err().what();
      newest = got->sequence;
    }
    auto inbox = (*bob)->inbox();
    ASSERT_TRUE(inbox) << inbox.err().what();
    ASSERT_EQ(inbox->size(), 3u);
    for (auto& m : *inbox) ASSERT_TRUE((*bob)->remove(m.sequence));  // processed, then deleted
  }
  auto bob = node::start(b_cfg);
  auto alice = node::start(a_cfg);
  ASSERT_TRUE(bob && alice);
  ASSERT_TRUE((*alice)->send((*bob)->id(), bytes{'4'}));
  auto got = (*bob)->receive(5s);
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_EQ(text(got->payload), "4");
  EXPECT_EQ(got->sequence, newest + 1);  // a watcher resuming `since` newest sees it
}
