// A node starting while a short-lived command holds its store's lock (`aqua serve &` then `aqua contacts list` at
// once: the command reads the store directly until a daemon answers) waits for the lock instead of failing with
// store_locked; a store kept open (another daemon) is still refused.
#include <future>

#include "framework/node/node_fixture.hpp"
#include "store/store.hpp"

using namespace aqua;
using namespace std::chrono_literals;
using namespace aqua::test::node_fixture;

TEST(node, a_start_waits_for_a_store_lock_held_briefly_and_refuses_one_kept) {
  test::temp_dir tmp("node");
  auto cfg = make_node_dir(tmp, "alice", yaml_for("/memory/store-lock-alice", ""), 0);
  const auto dir = cfg.data_dir / store::dir_name;
  {
    auto first = node::start(cfg);  // creates the store
    ASSERT_TRUE(first) << first.err().what();
  }
  auto held = store::db::open(dir, false);
  ASSERT_TRUE(held) << held.err().what();
  auto release = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(300ms);
    held->reset();
  });
  auto n = node::start(cfg);
  release.wait();
  ASSERT_TRUE(n) << n.err().what();
  n->reset();

  auto kept = store::db::open(dir, false);
  ASSERT_TRUE(kept) << kept.err().what();
  const auto t0 = std::chrono::steady_clock::now();
  auto refused = node::start(cfg);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.err().code(), errc::store_locked) << refused.err().what();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1s);  // after the wait, not at once
}
