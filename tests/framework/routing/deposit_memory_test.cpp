// routing::deposit_memory: an envelope a relay confirmed holding is not
// deposited again on every retry while its recipient stays offline — but only
// until the recipient is seen online, since it may then have fetched it (and
// its ack may have been lost with the relay: only a new copy brings another).
#include <gtest/gtest.h>

#include "routing/deposit_memory.hpp"

using aqua::bytes;
using aqua::routing::deposit_memory;

namespace {
const std::string bob = "12D3KooWbob", carol = "12D3KooWcarol", relay = "/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWrelay";
const bytes frame{1, 2, 3}, other{4, 5, 6};
} // namespace

TEST(deposit_memory, a_deposit_counts_as_held_for_its_keep_time_while_the_peer_is_not_seen) {
  deposit_memory m(600000);
  EXPECT_FALSE(m.held(bob, frame, 1000));
  m.deposited(bob, frame, relay, 1000);
  EXPECT_EQ(m.held(bob, frame, 1000), relay);  // which relay holds it: the outbox says so
  EXPECT_TRUE(m.held(bob, frame, 600999));
  EXPECT_FALSE(m.held(bob, frame, 601000)) << "kept 10 minutes at most";
  EXPECT_FALSE(m.held(bob, other, 2000)) << "other bytes";
  EXPECT_FALSE(m.held(carol, frame, 2000)) << "the same bytes for another peer";
}

TEST(deposit_memory, seeing_the_peer_online_forgets_what_was_deposited_for_it_before) {
  deposit_memory m;
  m.deposited(bob, frame, relay, 1000);
  m.deposited(carol, frame, relay, 1000);
  m.seen_online(bob, 5000);
  EXPECT_FALSE(m.held(bob, frame, 5001)) << "bob may have fetched it: deposit it again";
  EXPECT_TRUE(m.held(carol, frame, 5001)) << "carol was not seen";
  // Deposited again after that: held until bob is seen again.
  m.deposited(bob, frame, relay, 6000);
  EXPECT_TRUE(m.held(bob, frame, 7000));
  m.seen_online(bob, 8000);
  EXPECT_FALSE(m.held(bob, frame, 8000));
}

TEST(deposit_memory, remembers_a_bounded_number_of_deposits_oldest_forgotten_first) {
  deposit_memory m(600000, 3);
  for (std::uint8_t i = 0; i < 5; ++i) m.deposited(bob, bytes{i}, relay, 1000 + i);
  EXPECT_EQ(m.remembered(), 3u);
  EXPECT_FALSE(m.held(bob, bytes{0}, 2000));
  EXPECT_FALSE(m.held(bob, bytes{1}, 2000));
  EXPECT_TRUE(m.held(bob, bytes{4}, 2000));
  // Sightings of peers with nothing deposited change nothing (and are not kept: they would only grow).
  m.seen_online(carol, 3000);
  m.deposited(carol, frame, relay, 3500);
  EXPECT_TRUE(m.held(carol, frame, 4000));
}
