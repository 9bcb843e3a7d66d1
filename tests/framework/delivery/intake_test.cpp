// delivery::intake: what a node holds of the frames it received and has not
// opened yet is bounded in bytes, whatever the peers send, and opening keeps
// at most a fixed number of batches out at once.
#include <gtest/gtest.h>

#include <string>

#include "delivery/intake.hpp"

using aqua::delivery::intake;

TEST(intake, refuses_frames_past_its_bytes_and_takes_them_again_once_opened) {
  intake<int> in(1000, 8, 1);
  EXPECT_TRUE(in.push(1, 600));
  EXPECT_TRUE(in.push(2, 400));
  EXPECT_FALSE(in.push(3, 1)) << "1000 bytes held already";
  EXPECT_FALSE(in.push(4, 1001)) << "larger than the whole budget";
  auto b = in.take();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->items, (std::vector<int>{1, 2}));
  EXPECT_EQ(b->bytes, 1000u);
  // Being opened still counts: the frames are in memory until their batch is done.
  EXPECT_EQ(in.held_bytes(), 1000u);
  EXPECT_FALSE(in.push(5, 1));
  in.done(b->bytes);
  EXPECT_EQ(in.held_bytes(), 0u);
  EXPECT_TRUE(in.push(6, 1000));
}

TEST(intake, keeps_at_most_max_in_flight_batches_out_each_of_at_most_max_batch_frames_in_arrival_order) {
  intake<std::string> in(1 << 20, 3, 2);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(in.push(std::to_string(i), 10));
  auto a = in.take(), b = in.take();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->items, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(b->items, (std::vector<std::string>{"3", "4", "5"}));
  EXPECT_FALSE(in.ready());
  EXPECT_FALSE(in.take()) << "two batches out already";
  EXPECT_EQ(in.in_flight(), 2u);
  EXPECT_EQ(in.waiting(), 4u);
  in.done(a->bytes);
  ASSERT_TRUE(in.ready());
  auto c = in.take();
  EXPECT_EQ(c->items, (std::vector<std::string>{"6", "7", "8"}));
  in.done(b->bytes);
  auto d = in.take();
  EXPECT_EQ(d->items, (std::vector<std::string>{"9"}));
  in.done(c->bytes);
  in.done(d->bytes);
  EXPECT_FALSE(in.ready());
  EXPECT_FALSE(in.take()) << "nothing waits";
  EXPECT_EQ(in.held_bytes(), 0u);
  EXPECT_EQ(in.in_flight(), 0u);
}
