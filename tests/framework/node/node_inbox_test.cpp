// Inbox sequence numbers (node.hpp, docs/storage.md "meta/inbox_seq"): never
// given out twice, also when the newest message was deleted before a restart;
// read_through() says where the read history ends; watch() batches bounded
// in bytes.
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

// give_back: a message received but not processed goes to the next receive again, in sequence order.
TEST(node, a_message_given_back_is_received_again_before_later_ones) {
  test::temp_dir tmp("node");
  auto p = start_introduced_pair(tmp, "giveback");
  ASSERT_TRUE(p.alice && p.bob);
  for (char c : {'1', '2'}) ASSERT_TRUE(p.alice->send(seed_key(1).id(), bytes{static_cast<std::uint8_t>(c)}));
  auto first = p.bob->receive(5s);
  ASSERT_TRUE(first) << first.err().what();
  ASSERT_TRUE(eventually([&] { return p.bob->inbox()->size() == 2u; }));
  ASSERT_TRUE(p.bob->give_back(first->sequence));
  for (char c : {'1', '2'}) {
    auto got = p.bob->receive(5s);
    ASSERT_TRUE(got) << got.err().what();
    EXPECT_EQ(text(got->payload), std::string(1, c));
  }
  EXPECT_FALSE(p.bob->receive(300ms));
  EXPECT_EQ(p.bob->give_back(999).err().code(), errc::not_found);
}

// read_through(): every message up to it is read; it stops before the oldest unread one, and with none unread it is
// the newest number given out (also after that message was deleted, and after a restart).
TEST(node, read_through_stops_before_the_oldest_unread_message) {
  test::temp_dir tmp("node");
  auto p = start_introduced_pair(tmp, "readthru");
  ASSERT_TRUE(p.alice && p.bob);
  auto through = [&] {
    auto r = p.bob->read_through();
    EXPECT_TRUE(r) << r.err().what();
    return r ? *r : ~std::uint64_t{0};
  };
  EXPECT_EQ(through(), 0u);  // a new inbox
  for (char c : {'1', '2', '3'}) ASSERT_TRUE(p.alice->send(seed_key(1).id(), bytes{static_cast<std::uint8_t>(c)}));
  ASSERT_TRUE(eventually([&] { return p.bob->inbox()->size() == 3u; }));
  EXPECT_EQ(through(), 0u);  // 1 is unread
  ASSERT_TRUE(p.bob->read(1));
  EXPECT_EQ(through(), 1u);
  ASSERT_TRUE(p.bob->read(3));
  EXPECT_EQ(through(), 1u);  // 2 still unread
  ASSERT_TRUE(p.bob->read(2));
  EXPECT_EQ(through(), 3u);
  ASSERT_TRUE(p.bob->remove(3));
  EXPECT_EQ(through(), 3u);  // the number stays given out
  ASSERT_TRUE(p.bob->give_back(2));
  EXPECT_EQ(through(), 1u);
  ASSERT_TRUE(p.alice->send(seed_key(1).id(), bytes{'4'}));
  ASSERT_TRUE(eventually([&] { return p.bob->inbox()->size() == 3u; }));
  ASSERT_TRUE(p.bob->read(2));
  EXPECT_EQ(through(), 3u);  // 4 is unread
}

TEST(node, watch_with_a_byte_bound_ends_its_batch_once_the_payloads_reach_it) {
  test::temp_dir tmp("node");
  auto bob = node::start(make_node_dir(tmp, "bob", yaml_for("/memory/wb-bob", ""), 1));
  auto alice = node::start(make_node_dir(tmp, "alice", yaml_for("/memory/wb-alice", route(1, "/memory/wb-bob")), 0));
  ASSERT_TRUE(bob && alice);
  introduce(**alice, **bob);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*alice)->send((*bob)->id(), bytes(300'000, static_cast<std::uint8_t>(i))));
  ASSERT_TRUE(eventually([&] { return (*bob)->status()->inbox_unread == 5u; }, 10s));
  auto all = (*bob)->watch(0, 256, 0ms);
  ASSERT_TRUE(all) << all.err().what();
  EXPECT_EQ(all->size(), 5u);
  auto bounded = (*bob)->watch(0, 256, 1'000'000, 0ms);  // 4 x 300 kB reach 1 MB: the batch ends there
  ASSERT_TRUE(bounded) << bounded.err().what();
  ASSERT_EQ(bounded->size(), 4u);
  auto rest = (*bob)->watch(bounded->back().sequence, 256, 1'000'000, 0ms);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(rest->front().payload, bytes(300'000, 4));
  auto one = (*bob)->watch(0, 256, 1, 0ms);  // the first message always comes
  ASSERT_TRUE(one);
  EXPECT_EQ(one->size(), 1u);
  // A waiting watcher gets the same bound.
  auto last = rest->front().sequence;
  std::thread later([&] {
    std::this_thread::sleep_for(200ms);
    for (int i = 0; i < 2; ++i) (void) (*alice)->send((*bob)->id(), bytes(600'000, 9));
  });
  auto waited = (*bob)->watch(last, 256, 500'000, 10s);
  later.join();
  ASSERT_TRUE(waited) << waited.err().what();
  EXPECT_EQ(waited->size(), 1u);
}
