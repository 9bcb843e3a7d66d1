#include <gtest/gtest.h>

#include "p2p/protobuf.hpp"

using namespace aqua;

TEST(protobuf, varint_round_trips_edge_values) {
  for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 16383ull, 16384ull, 0xffffffffull, ~0ull}) {
    bytes b;
    pb::put_varint(b, v);
    auto r = pb::read_varint(b);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->value, v);
    EXPECT_EQ(r->length, b.size());
  }
  bytes b300;
  pb::put_varint(b300, 300);
  EXPECT_EQ(b300, (bytes{0xac, 0x02}));
}

TEST(protobuf, rejects_truncated_and_overlong_varints) {
  EXPECT_FALSE(pb::read_varint(bytes{0x80}));
  EXPECT_FALSE(pb::read_varint(bytes{}));
  bytes eleven(10, 0xff);
  eleven.push_back(0x01);
  EXPECT_FALSE(pb::read_varint(eleven));
  bytes overflow(9, 0xff);
  overflow.push_back(0x02);
  EXPECT_FALSE(pb::read_varint(overflow));
  EXPECT_FALSE(pb::read_varint(bytes{0x80, 0x01}, 1)); // caller's cap
}

TEST(protobuf, reads_fields_written_by_the_writers) {
  bytes m;
  pb::put_varint_field(m, 1, 0); // explicit zero must be encoded
  pb::put_bytes_field(m, 2, bytes{1, 2, 3});
  pb::put_string_field(m, 15, "hi");
  pb::reader r(m);
  pb::field f;
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(f.number, 1u);
  EXPECT_EQ(f.type, pb::wire::varint);
  EXPECT_EQ(f.value, 0u);
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(f.number, 2u);
  EXPECT_EQ(bytes(f.data.begin(), f.data.end()), (bytes{1, 2, 3}));
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(f.number, 15u);
  EXPECT_EQ(f.data.size(), 2u);
  EXPECT_FALSE(r.next(f));
  EXPECT_FALSE(r.failed());
}

TEST(protobuf, rejects_length_past_the_end_groups_and_field_zero) {
  for (bytes bad : {bytes{0x12, 0x05, 1, 2}, bytes{0x0b}, bytes{0x00, 0x01}, bytes{0x08}, bytes{0x0d, 1, 2}}) {
    pb::reader r(bad);
    pb::field f;
    while (r.next(f)) {
    }
    EXPECT_TRUE(r.failed());
  }
}
