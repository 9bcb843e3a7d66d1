// The zmq listener's connection guard (sans-I/O): which TCP connections it
// refuses at accept and which it closes for want of a Noise link, and the
// address (an IPv6 /64) its per-address limits count a peer under.
#include <gtest/gtest.h>

#include <algorithm>

#include "transports/zmq/zmq_guard.hpp"

using aqua::zmqt::conn_guard;
using verdict = conn_guard::verdict;

namespace {
conn_guard make(std::size_t total, std::size_t per_address, std::int64_t timeout_ms = 1000) {
  conn_guard::limits l;
  l.max_connections = total;
  l.max_per_address = per_address;
  l.handshake_timeout_ms = timeout_ms;
  return conn_guard(l);
}
} // namespace

TEST(zmq_guard, refuses_connections_beyond_the_per_address_and_the_total_limit) {
  auto g = make(5, 2);
  EXPECT_EQ(g.accepted(10, "10.0.0.1", 0), verdict::keep);
  EXPECT_EQ(g.accepted(11, "10.0.0.1", 0), verdict::keep);
  EXPECT_EQ(g.accepted(12, "10.0.0.1", 0), verdict::over_address);  // a third from one address
  EXPECT_EQ(g.accepted(13, "10.0.0.2", 0), verdict::keep);           // others still get in
  EXPECT_EQ(g.accepted(14, "10.0.0.2", 0), verdict::keep);
  EXPECT_EQ(g.accepted(15, "10.0.0.3", 0), verdict::keep);
  EXPECT_EQ(g.accepted(16, "10.0.0.4", 0), verdict::over_total);
  EXPECT_EQ(g.open(), 5u);
  EXPECT_EQ(g.open_from("10.0.0.1"), 2u);
  g.closed(12);  // refused ones are not tracked: their disconnect changes nothing
  EXPECT_EQ(g.open(), 5u);
  g.closed(10);  // a slot of its address and of the total comes free
  EXPECT_EQ(g.open_from("10.0.0.1"), 1u);
  EXPECT_EQ(g.accepted(16, "10.0.0.1", 0), verdict::keep);
}

TEST(zmq_guard, a_connection_without_a_link_is_closed_after_the_handshake_timeout_once) {
  auto g = make(10, 10, 1000);
  g.accepted(3, "127.0.0.2", 0);
  g.accepted(4, "127.0.0.2", 500);
  EXPECT_TRUE(g.overdue(999).empty());
  EXPECT_EQ(g.overdue(1000), std::vector<int>{3});
  EXPECT_TRUE(g.overdue(1200).empty());  // asked to close once; it counts until libzmq reports it closed
  EXPECT_EQ(g.open(), 2u);
  EXPECT_EQ(g.overdue(1500), std::vector<int>{4});
  g.closed(3);
  g.closed(4);
  EXPECT_EQ(g.open(), 0u);
  EXPECT_EQ(g.open_from("127.0.0.2"), 0u);
}

TEST(zmq_guard, an_authenticated_connection_stays_until_its_link_ends_then_gets_a_new_handshake_timeout) {
  auto g = make(10, 10, 1000);
  g.accepted(7, "127.0.0.1", 0);
  g.authenticated(7);
  EXPECT_TRUE(g.overdue(1'000'000).empty());
  g.unauthenticated(7, 2'000'000);  // evicted or failed: it may start a new handshake
  EXPECT_TRUE(g.overdue(2'000'999).empty());
  EXPECT_EQ(g.overdue(2'001'000), std::vector<int>{7});
  g.unauthenticated(99, 0);  // unknown fds are ignored
  g.authenticated(99);
  EXPECT_EQ(g.open(), 1u);
}

TEST(zmq_guard, a_reused_fd_number_is_a_new_connection) {
  auto g = make(10, 1, 1000);
  g.accepted(5, "127.0.0.2", 0);
  g.authenticated(5);
  // libzmq closed fd 5 and reused the number before its disconnect reached us: the old entry goes.
  EXPECT_EQ(g.accepted(5, "127.0.0.3", 100), verdict::keep);
  EXPECT_EQ(g.open(), 1u);
  EXPECT_EQ(g.open_from("127.0.0.2"), 0u);
  EXPECT_EQ(g.overdue(1100), std::vector<int>{5});  // the new one has no link yet
}

// Each new connection costs the listener a Noise handshake: one address gets a bucket of new_per_address_per_s
// connections, refilled at that rate, whether or not earlier ones were closed meanwhile.
TEST(zmq_guard, refuses_new_connections_from_one_address_beyond_its_rate_and_lets_it_back_as_the_bucket_refills) {
  conn_guard::limits l;
  l.max_connections = 1000;
  l.max_per_address = 1000;
  l.new_per_address_per_s = 4;
  conn_guard g(l);
  int fd = 10;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(g.accepted(fd++, "10.0.0.1", 0), verdict::keep) << i;
  EXPECT_EQ(g.accepted(fd++, "10.0.0.1", 0), verdict::over_rate);
  EXPECT_EQ(g.accepted(fd++, "10.0.0.2", 0), verdict::keep);  // another address has its own bucket
  for (int c = 10; c < 14; ++c) g.closed(c);                  // closing them gives no new ones
  EXPECT_EQ(g.accepted(fd++, "10.0.0.1", 100), verdict::over_rate);
  EXPECT_EQ(g.accepted(fd++, "10.0.0.1", 250), verdict::keep);  // 250 ms at 4/s: one more
  EXPECT_EQ(g.accepted(fd++, "10.0.0.1", 250), verdict::over_rate);
  EXPECT_EQ(g.accepted(fd++, "10.0.0.1", 2000), verdict::keep);  // refilled, never above the bucket
  for (int i = 0; i < 3; ++i) EXPECT_EQ(g.accepted(fd++, "10.0.0.1", 2000), verdict::keep) << i;
  EXPECT_EQ(g.accepted(fd++, "10.0.0.1", 2000), verdict::over_rate);
  // 0: no rate limit.
  l.new_per_address_per_s = 0;
  conn_guard open(l);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(open.accepted(100 + i, "10.0.0.1", 0), verdict::keep) << i;
}

TEST(zmq_guard, an_ipv6_peer_counts_under_its_64_and_an_ipv4_mapped_one_under_its_ipv4_address) {
  using aqua::zmqt::limit_address;
  EXPECT_EQ(limit_address("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(limit_address("::ffff:10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(limit_address("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(limit_address("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
  EXPECT_EQ(limit_address("2001:db8:1:3::1"), "2001:db8:1:3::/64");
  EXPECT_EQ(limit_address("::1"), "::/64");
  EXPECT_EQ(limit_address("not an address"), "not an address");
  // Two hosts of one /64 share its limit; the next /64 has its own.
  auto g = make(10, 2);
  EXPECT_EQ(g.accepted(10, limit_address("2001:db8:1:2::a"), 0), verdict::keep);
  EXPECT_EQ(g.accepted(11, limit_address("2001:db8:1:2::b"), 0), verdict::keep);
  EXPECT_EQ(g.accepted(12, limit_address("2001:db8:1:2::c"), 0), verdict::over_address);
  EXPECT_EQ(g.accepted(13, limit_address("2001:db8:1:3::a"), 0), verdict::keep);
}
