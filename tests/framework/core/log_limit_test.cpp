// core/log_limit.hpp: at most `burst` lines per window; the next line that goes out says how many were left out.
#include <gtest/gtest.h>

#include "core/log_limit.hpp"

using aqua::log_limit;
using aqua::suppressed_note;

TEST(log_limit, lets_a_burst_through_then_counts_what_it_leaves_out_until_the_next_window) {
  log_limit l(3, 1000);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(l.allow(5000 + i), 0u);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(l.allow(5100 + i));
  EXPECT_EQ(l.suppressed(), 10u);
  EXPECT_FALSE(l.allow(5999));
  EXPECT_EQ(l.allow(6000), 11u);  // a new window: the first line carries the count
  EXPECT_EQ(l.allow(6001), 0u);
  EXPECT_EQ(l.suppressed(), 0u);
}

TEST(log_limit, a_clock_that_goes_back_starts_a_new_window) {
  log_limit l(1, 1000);
  EXPECT_EQ(l.allow(10000), 0u);
  EXPECT_FALSE(l.allow(10001));
  EXPECT_EQ(l.allow(2000), 1u);
}

TEST(log_limit, the_note_names_the_lines_left_out) {
  EXPECT_EQ(suppressed_note(0), "");
  EXPECT_EQ(suppressed_note(1), " (1 similar line left out before this one)");
  EXPECT_EQ(suppressed_note(12), " (12 similar lines left out before this one)");
}
