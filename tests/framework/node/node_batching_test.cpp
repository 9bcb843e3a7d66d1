// The mailbox seals the sends of one turn together (seal_many) and opens the
// frames of one turn together (open_many); one failing item must not take
// the others down, and batching must not reorder or duplicate anything.
#include <atomic>
#include <map>

#include "framework/node/node_fixture.hpp"

using namespace aqua;
using namespace std::chrono_literals;
using namespace aqua::test::node_fixture;

TEST(node_batching, a_failing_send_in_a_batch_fails_alone_and_the_rest_arrive_once_in_order) {
  test::temp_dir tmp("node");
  auto pair = start_introduced_pair(tmp, "batch");
  auto& alice = pair.alice;  // references, not a structured binding: the sender lambdas capture them (clang)
  auto& bob = pair.bob;
  ASSERT_TRUE(alice && bob);
  auto stranger = seed_key(9).id();  // no card: nothing to encrypt to
  constexpr int threads = 8, per_thread = 40;
  std::atomic<int> failed_right{0}, failed_wrong{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        if (i % 5 == 0) {  // interleaved with good sends, so batches mix both
          auto r = alice->send(stranger, bytes{1});
          (!r && r.err().code() == errc::unknown_session ? failed_right : failed_wrong)++;
        }
        std::string body = std::to_string(t) + ":" + std::to_string(i);
        if (!alice->send(bob->id(), bytes(body.begin(), body.end()))) failed_wrong++;
      }
    });
  for (auto& s : senders) s.join();
  EXPECT_EQ(failed_right, threads * per_thread / 5);
  EXPECT_EQ(failed_wrong, 0);
  std::map<int, int> next;  // per sending thread: the index expected next (each thread's sends are in order)
  int got = 0;
  while (got < threads * per_thread) {
    auto m = bob->receive(5s);
    ASSERT_TRUE(m) << "after " << got << ": " << m.err().what();
    auto body = text(m->payload);
    auto colon = body.find(':');
    int t = std::stoi(body.substr(0, colon)), i = std::stoi(body.substr(colon + 1));
    EXPECT_EQ(i, next[t]) << "thread " << t;
    next[t] = i + 1;
    ++got;
  }
  EXPECT_FALSE(bob->receive(300ms));  // nothing twice
}
