#include <gtest/gtest.h>

#include "routing/path_table.hpp"

using namespace aqua::routing;

namespace {
const std::string direct = "/ip4/10.0.0.2/tcp/4001";
const std::string circuit = "/ip4/198.18.0.1/tcp/4001/p2p/12D3KooWRelay/p2p-circuit/p2p/12D3KooWBob";
const std::vector<std::string> both{circuit, direct};  // card order does not matter: direct goes first
} // namespace

TEST(path_table, prefers_direct_then_relayed_and_offers_the_relay_mailbox) {
  path_table t;
  auto c = t.choose("bob", both, 0);
  EXPECT_EQ(c.live, (std::vector<std::string>{direct, circuit}));
  EXPECT_EQ(c.mailbox, std::vector<std::string>{circuit});
  EXPECT_NE(c.why.find("direct"), std::string::npos) << c.why;
}

TEST(path_table, a_failed_address_backs_off_doubling_and_resets_when_it_works) {
  path_table t;
  t.failed("bob", direct, "handshake timeout", 1000);
  auto c = t.choose("bob", both, 1500);
  EXPECT_EQ(c.live, std::vector<std::string>{circuit});
  EXPECT_EQ(t.choose("bob", both, 2000).live.size(), 2u);  // 1 s later it is tried again
  t.failed("bob", direct, "again", 2000);
  EXPECT_EQ(t.choose("bob", both, 3500).live.size(), 1u);  // now 2 s
  EXPECT_EQ(t.choose("bob", both, 4000).live.size(), 2u);
  t.worked("bob", direct);
  EXPECT_EQ(t.report("bob", both)[1].failures, 0u);
  for (int i = 0; i < 20; ++i) t.failed("bob", direct, "x", 0);
  EXPECT_EQ(t.report("bob", both)[1].retry_at_ms, path_table::max_backoff_ms);  // capped
}

TEST(path_table, a_slow_failure_backs_off_at_least_twice_its_lifetime) {
  path_table t;
  t.failed("bob", direct, "handshake timeout after 10 s", 10000, 20000);
  EXPECT_EQ(t.choose("bob", both, 29000).live, std::vector<std::string>{circuit});
  EXPECT_EQ(t.choose("bob", both, 30000).live.size(), 2u);
}

TEST(path_table, every_live_path_down_means_the_mailbox_and_says_why) {
  path_table t;
  t.failed("bob", direct, "timeout", 0);
  t.failed("bob", circuit, "NO_RESERVATION", 0);
  auto c = t.choose("bob", both, 10);
  EXPECT_TRUE(c.live.empty());
  EXPECT_EQ(c.mailbox, std::vector<std::string>{circuit});
  EXPECT_NE(c.why.find("mailbox"), std::string::npos) << c.why;
  auto only_direct = t.choose("bob", {direct}, 10);
  EXPECT_TRUE(only_direct.live.empty() && only_direct.mailbox.empty());
  EXPECT_NE(only_direct.why.find("no mailbox"), std::string::npos);
  EXPECT_NE(t.choose("carol", {}, 0).why.find("no address"), std::string::npos);
}

TEST(path_table, remembers_the_last_path_used) {
  path_table t;
  EXPECT_FALSE(t.last_used("bob"));
  t.used("bob", path_kind::mailbox, circuit, 5);
  ASSERT_TRUE(t.last_used("bob"));
  EXPECT_EQ(t.last_used("bob")->first, path_kind::mailbox);
  EXPECT_EQ(kind_of(circuit), path_kind::relayed);
  EXPECT_EQ(kind_of("/memory/x"), path_kind::direct);
}

// Without a relay_v2 transport, relayed addresses are neither dialled nor mailboxes, and the choice says why (a
// loopback-only node sending to a relay-only contact was told it would deposit, then retried for a day).
TEST(path_table, relayed_addresses_are_no_path_without_a_transport_that_dials_them) {
  path_table t;
  const std::string circuit = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWR/p2p-circuit/p2p/12D3KooWB";
  auto c = t.choose("bob", {circuit}, 0, false);
  EXPECT_TRUE(c.live.empty());
  EXPECT_TRUE(c.mailbox.empty());
  EXPECT_NE(c.why.find("no relay_v2 transport"), std::string::npos) << c.why;
  auto with = t.choose("bob", {circuit}, 0, true);
  EXPECT_EQ(with.live, std::vector<std::string>{circuit});
  EXPECT_EQ(with.mailbox, std::vector<std::string>{circuit});
}
