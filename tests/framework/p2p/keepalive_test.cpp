// keepalive (sans-I/O): when an established connection is pinged, and when it is given up as dead.
#include <gtest/gtest.h>

#include "p2p/keepalive.hpp"

using namespace aqua::p2p;
using action = keepalive::action;

TEST(keepalive, a_peer_that_answers_is_pinged_every_interval_and_never_given_up) {
  keepalive k({100, 300}, 0);
  EXPECT_EQ(k.next_due_ms(), 100);
  EXPECT_EQ(k.on_timer(50), action::none);  // early: nothing to do yet
  for (std::int64_t t = 100; t <= 2000; t += 100) {
    EXPECT_EQ(k.on_timer(t), action::ping) << t;
    k.received(t + 20);  // the answer
    EXPECT_EQ(k.next_due_ms(), t + 100) << t;
  }
}

TEST(keepalive, a_peer_silent_for_the_timeout_is_dead) {
  keepalive k({100, 300}, 0);
  EXPECT_EQ(k.on_timer(100), action::ping);
  EXPECT_EQ(k.on_timer(200), action::ping);
  EXPECT_EQ(k.next_due_ms(), 300);  // the silence check comes before the next ping
  EXPECT_EQ(k.on_timer(300), action::close);
  EXPECT_EQ(k.silent_ms(300), 300);
  // Anything at all from the peer counts, and only time since the last byte.
  keepalive busy({100, 300}, 0);
  busy.received(250);
  EXPECT_EQ(busy.on_timer(300), action::ping);
  EXPECT_EQ(busy.on_timer(549), action::ping);
  EXPECT_EQ(busy.next_due_ms(), 550);
  EXPECT_EQ(busy.on_timer(550), action::close);
  busy.received(100);  // a clock reading from before the last one changes nothing
  EXPECT_EQ(busy.silent_ms(550), 300);
}

TEST(keepalive, without_pings_or_timeout_nothing_is_due) {
  keepalive off({0, 0}, 0);
  EXPECT_EQ(off.next_due_ms(), -1);
  EXPECT_EQ(off.on_timer(1000000), action::none);
  keepalive pings_only({100, 0}, 0);
  EXPECT_EQ(pings_only.on_timer(100000), action::ping);
  keepalive timeout_only({0, 300}, 0);
  EXPECT_EQ(timeout_only.next_due_ms(), 300);
  timeout_only.received(250);
  EXPECT_EQ(timeout_only.next_due_ms(), 550);
  EXPECT_EQ(timeout_only.on_timer(549), action::none);
  EXPECT_EQ(timeout_only.on_timer(550), action::close);
}
