// agent_directory `require`: daemons that require each other's agents, or their own, start.
#include <gtest/gtest.h>

#include <future>

#include "aqua/agent.hpp"
#include "aqua/config.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;
using namespace std::chrono_literals;

namespace {

class echo_agent final : public agent {
 public:
  result<agent_payload> on_request(agent_context&, const agent_message& m) override {
    return agent_payload{"echo.reply", m.payload.body};
  }
};

node_config host_config(const test::temp_dir& tmp, const std::string& host, const std::string& agent_name,
                        const std::string& require) {
  auto cfg = parse_config("node: {name: " + host + "}\ncomponents: {}\ntransports: []\nagents: [{plugin: test, name: " +
                            agent_name + "}]\nagent_directory: {path: " + (tmp.path() / "directory").string() +
                            ", require: [" + require + "], wait_s: 20}\n",
                          "<test>", tmp.path() / host);
  EXPECT_TRUE(cfg) << cfg.err().what();
  return *cfg;
}

} // namespace

// Each host publishes its cards before it waits for the ones it requires: until 2026-11-28 both waited first
// and both gave up after wait_s with an empty directory.
TEST(AgentRequire, two_hosts_that_require_each_others_agents_both_start_and_talk) {
  test::temp_dir tmp("agent-require");
  auto start = [&](const std::string& host, const std::string& name, const std::string& require) {
    return std::async(std::launch::async, [&tmp, host, name, require] {
      return agent_host::start_with(host_config(tmp, host, name, require), {std::make_shared<echo_agent>()}, {});
    });
  };
  auto one = start("h1", "alpha", "beta");
  auto two = start("h2", "beta", "alpha");
  auto h1 = one.get();
  auto h2 = two.get();
  ASSERT_TRUE(h1) << h1.err().what();
  ASSERT_TRUE(h2) << h2.err().what();
  // beta's card came after h1 started its agent: beta is reached at its card's addresses.
  auto r = (*h1)->request_as("alpha", "beta", agent_payload::text("echo", "across"), 10s);
  ASSERT_TRUE(r) << r.err().what();
  EXPECT_EQ(r->payload.text(), "across");
  auto back = (*h2)->request_as("beta", "alpha", agent_payload::text("echo", "and back"), 10s);
  ASSERT_TRUE(back) << back.err().what();
  EXPECT_EQ(back->payload.text(), "and back");
}

TEST(AgentRequire, a_host_that_requires_its_own_agent_starts_at_once) {
  test::temp_dir tmp("agent-require");
  auto t0 = std::chrono::steady_clock::now();
  auto h = agent_host::start_with(host_config(tmp, "h1", "alpha", "alpha"), {std::make_shared<echo_agent>()}, {});
  ASSERT_TRUE(h) << h.err().what();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}
