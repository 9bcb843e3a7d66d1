// An agent host runs every agent's node and actor in one actor system and
// every zmq transport on one ZeroMQ context: a hundred agents must not bring
// a hundred schedulers, clocks, timer and ZeroMQ I/O threads.
#include <gtest/gtest.h>

#include "aqua/agent.hpp"
#include "framework/agent/test_agents.hpp"
#include "support/eventually.hpp"
#include "support/threads.hpp"

using namespace aqua;
using namespace std::chrono_literals;
using test::threads_now;

TEST(AgentHost, AgentsShareOneActorSystemAndOneZeroMQContextSoThreadsGrowByAFewPerAgent) {
  test::temp_dir tmp("agent");
  constexpr int agents = 8;
  std::string names = "{plugin: test, name: teller}";
  std::vector<std::shared_ptr<agent>> made{std::make_shared<test::teller>("a1", 3)};
  auto sink = std::make_shared<test::recorder>();
  for (int i = 1; i < agents; ++i) {
    names += ", {plugin: test, name: a" + std::to_string(i) + "}";
    made.push_back(i == 1 ? std::shared_ptr<agent>(sink) : std::make_shared<test::recorder>());
  }
  const auto before = threads_now();
  auto host = agent_host::start_with(test::agents_config(tmp, names), made, {});
  ASSERT_TRUE(host) << host.err().what();
  ASSERT_TRUE(test::eventually([&] {
    std::lock_guard lock(sink->mu);
    return sink->got.size() == 3;
  }, 10s));
  const auto grown = threads_now() - before;
  // Per agent: its actor's thread, its inbox pump, its store's committer and LevelDB's compaction thread, the zmq
  // transport's I/O thread; shared: the scheduler's workers, its clock and ZeroMQ's I/O and reaper threads. With a
  // system and a context per agent it was about 9 per agent.
  EXPECT_LE(grown, std::size_t{6 * agents + 8}) << grown << " threads for " << agents << " agents";
  (*host)->stop();
}
