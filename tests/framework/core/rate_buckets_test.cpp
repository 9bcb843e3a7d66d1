// core/rate_buckets.hpp: a bucket of per_s tokens per key, refilled at per_s a second; keys forgotten once full.
#include <gtest/gtest.h>

#include <string>

#include "core/rate_buckets.hpp"

using aqua::rate_buckets;

TEST(rate_buckets, a_key_takes_its_bucket_then_one_token_per_refill_interval_never_more_than_the_bucket) {
  rate_buckets<std::string> r(4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.take("a", 0)) << i;
  EXPECT_FALSE(r.take("a", 0));
  EXPECT_TRUE(r.take("b", 0));  // its own bucket
  EXPECT_FALSE(r.take("a", 200));
  EXPECT_TRUE(r.take("a", 250));  // 250 ms at 4 a second: one token
  EXPECT_FALSE(r.take("a", 250));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.take("a", 60000)) << i;  // a long pause refills the bucket, no more
  EXPECT_FALSE(r.take("a", 60000));
  EXPECT_FALSE(r.take("a", 59000));  // a clock that goes back gives nothing
}

TEST(rate_buckets, zero_is_no_limit_and_tracks_nothing) {
  rate_buckets<int> r(0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(r.take(7, 0));
  EXPECT_EQ(r.tracked(), 0u);
}

TEST(rate_buckets, forgets_keys_whose_bucket_is_full_again) {
  rate_buckets<std::uint32_t> r(2);
  for (std::uint32_t k = 0; k < 50; ++k) EXPECT_TRUE(r.take(k, 5000));
  EXPECT_EQ(r.tracked(), 50u);  // each still short of a token
  EXPECT_TRUE(r.take(99, 5400));  // under a second since the last sweep: nothing swept
  EXPECT_EQ(r.tracked(), 51u);
  EXPECT_TRUE(r.take(100, 6500));  // the next take a second later sweeps the refilled ones
  EXPECT_EQ(r.tracked(), 1u);
  // A forgotten key starts with a full bucket, as it would have had.
  EXPECT_TRUE(r.take(0, 6500));
  EXPECT_TRUE(r.take(0, 6500));
  EXPECT_FALSE(r.take(0, 6500));
}
