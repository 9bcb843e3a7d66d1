// The demo's data agent (the real plugin) computing statistics from a CSV:
// means are rounded to whole dollars, not truncated.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>

#include "aqua/agent.hpp"
#include "framework/agent/test_agents.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;
using namespace std::chrono_literals;

namespace {

// Asks a data agent loaded from its plugin (csv: `rows` below the header) for data.stats.
nlohmann::json stats_of(const test::temp_dir& tmp, const std::string& rows) {
  test::write_text(tmp.path() / "prices.csv", "maker,model,segment,price_usd,range_km,year\n" + rows);
  auto cfg = test::agents_config(tmp, "{plugin: data, name: data, settings: {csv: " + (tmp.path() / "prices.csv").string() +
                                          "}}, {plugin: test, name: alpha}");
  auto data = load_agent_plugin(cfg.plugin_path, cfg.agents[0]);
  EXPECT_TRUE(data) << data.err().what();
  if (!data) return {};
  auto host = agent_host::start_with(cfg, {*data, std::make_shared<test::teller>("data", 0)}, {});
  EXPECT_TRUE(host) << host.err().what();
  if (!host) return {};
  auto r = (*host)->request_as("alpha", "data", agent_payload::text("data.stats", ""), 20s);
  EXPECT_TRUE(r) << r.err().what();
  if (!r) return {};
  return nlohmann::json::parse(r->payload.text());
}

} // namespace

TEST(AgentDemoData, MeansAreRoundedToTheNearestDollarNotTruncated) {
  test::temp_dir tmp("agent-data");
  // Each value below truncated differently: A 10001.5, C 26667.67, all 20000.875, median 20000.5, a1 74.63 per km.
  auto st = stats_of(tmp, "A,a1,x,10001,134,2024\nA,a2,x,10002,100,2024\n"
                          "B,b1,x,20000,100,2024\nB,b2,x,20000,100,2024\nB,b3,x,20001,100,2024\n"
                          "C,c1,x,20002,100,2024\nC,c2,x,30000,100,2024\nC,c3,x,30001,100,2024\n");
  ASSERT_TRUE(st.contains("makers")) << st.dump();
  std::map<std::string, long> mean;
  for (auto& m : st["makers"]) mean[m["maker"].get<std::string>()] = m["mean"].get<long>();
  EXPECT_EQ(mean["A"], 10002);  // a half goes up
  EXPECT_EQ(mean["B"], 20000);  // 20000.33
  EXPECT_EQ(mean["C"], 26668);
  EXPECT_EQ(st["mean"].get<long>(), 20001);
  EXPECT_EQ(st["median"].get<long>(), 20001);
  EXPECT_EQ(st["best_value"].get<std::string>(), "A a1");
  EXPECT_EQ(st["best_value_usd_per_km"].get<long>(), 75);
}
