// What routing remembers of the addresses in the cards of senders who are no
// contacts (routing/sender_addresses.hpp): the newest card wins, in-process
// addresses are left out, and memory is bounded.

#include <gtest/gtest.h>

#include "routing/sender_addresses.hpp"

using aqua::routing::sender_addresses;
using v = std::vector<std::string>;

TEST(sender_addresses, remembers_a_senders_card_addresses_and_the_newest_card_wins) {
  sender_addresses s;
  EXPECT_TRUE(s.of("carol").empty());
  s.learn("carol", {"/ip4/127.0.0.1/tcp/1/p2p/R/p2p-circuit/p2p/carol", "/ip4/127.0.0.1/tcp/2"});
  EXPECT_EQ(s.of("carol"), (v{"/ip4/127.0.0.1/tcp/1/p2p/R/p2p-circuit/p2p/carol", "/ip4/127.0.0.1/tcp/2"}));
  s.learn("carol", {"/ip4/127.0.0.1/tcp/3"});
  EXPECT_EQ(s.of("carol"), (v{"/ip4/127.0.0.1/tcp/3"}));
  s.learn("carol", {});  // a newer card lists none: the old ones are no longer claimed
  EXPECT_TRUE(s.of("carol").empty());
  EXPECT_EQ(s.size(), 0u);
}

TEST(sender_addresses, leaves_out_in_process_addresses_and_repeats_and_keeps_at_most_eight) {
  sender_addresses s;
  s.learn("mallory", {"/memory/news", "/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/1"});
  EXPECT_EQ(s.of("mallory"), (v{"/ip4/127.0.0.1/tcp/1"}));
  v many;
  for (int i = 0; i < 20; ++i) many.push_back("/ip4/127.0.0.1/tcp/" + std::to_string(100 + i));
  s.learn("mallory", many);
  EXPECT_EQ(s.of("mallory").size(), sender_addresses::max_addresses);
  s.learn("only-memory", {"/memory/a"});
  EXPECT_EQ(s.size(), 1u);
}

TEST(sender_addresses, keeps_the_newest_senders_within_its_bound) {
  sender_addresses s(3);
  for (const char* p : {"a", "b", "c"}) s.learn(p, {std::string("/ip4/127.0.0.1/tcp/1/p2p/") + p});
  s.learn("a", {"/ip4/127.0.0.1/tcp/9"});  // learned again: now the newest
  s.learn("d", {"/ip4/127.0.0.1/tcp/4"});
  EXPECT_EQ(s.size(), 3u);
  EXPECT_TRUE(s.of("b").empty());  // the oldest went
  EXPECT_EQ(s.of("a"), (v{"/ip4/127.0.0.1/tcp/9"}));
  EXPECT_FALSE(s.of("c").empty());
  EXPECT_FALSE(s.of("d").empty());
}
