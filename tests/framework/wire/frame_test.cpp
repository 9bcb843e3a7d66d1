#include <gtest/gtest.h>

#include "identity/keypair.hpp"
#include "wire/frame.hpp"

using namespace aqua;

namespace {

keypair key(std::uint8_t b) { return keypair::from_seed(bytes(32, b)).value(); }

bytes signed_frame(const keypair& from, const peer_id& to, const std::string& text) {
  wire::frame f;
  f.sender = from.pub();
  f.recipient = to;
  f.message_id.fill(0x42);
  f.payload.assign(text.begin(), text.end());
  f.signature = from.sign(wire::signing_input(f));
  return wire::encode(f);
}

} // namespace

TEST(frame, signed_frame_opens_for_its_recipient) {
  auto alice = key(0), bob = key(1);
  auto data = signed_frame(alice, bob.id(), "hello");
  auto f = wire::open(data, 1024, bob.id());
  ASSERT_TRUE(f) << f.err().what();
  EXPECT_EQ(f->sender, alice.pub());
  EXPECT_EQ(std::string(f->payload.begin(), f->payload.end()), "hello");
}

TEST(frame, encoding_is_stable) {
  // Fixed keys -> exact bytes: header, sender key, recipient multihash, id, length.
  auto data = signed_frame(key(0), key(1).id(), "hi");
  ASSERT_EQ(data.size(), 4u + 32 + 1 + 38 + 16 + 4 + 2 + 64);
  EXPECT_EQ(to_hex(bytes_view(data.data(), 4)), "41510001");
  EXPECT_EQ(data[36], 38);
  EXPECT_EQ(to_hex(bytes_view(data.data() + 37, 6)), "002408011220");
  EXPECT_EQ(to_hex(bytes_view(data.data() + 91, 6)), "000000026869");
}

TEST(frame, rejects_wrong_recipient) {
  auto data = signed_frame(key(0), key(1).id(), "hello");
  auto f = wire::open(data, 1024, key(2).id());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.err().code(), errc::wrong_recipient);
}

TEST(frame, rejects_every_single_bit_flip) {
  auto alice = key(0), bob = key(1);
  auto data = signed_frame(alice, bob.id(), "payload under test");
  for (std::size_t i = 0; i < data.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = data;
      copy[i] ^= static_cast<std::uint8_t>(1u << bit);
      auto f = wire::open(copy, 1024, bob.id());
      EXPECT_FALSE(f) << "flip at byte " << i << " bit " << bit << " was accepted";
    }
  }
}

TEST(frame, rejects_every_truncation) {
  auto data = signed_frame(key(0), key(1).id(), "payload");
  for (std::size_t n = 0; n < data.size(); ++n) {
    auto f = wire::decode(bytes_view(data.data(), n), 1024);
    ASSERT_FALSE(f) << n;
    EXPECT_EQ(f.err().code(), errc::bad_frame) << n;
  }
  auto longer = data;
  longer.push_back(0);
  auto f = wire::decode(longer, 1024);
  ASSERT_FALSE(f);
  EXPECT_NE(f.err().message().find("trailing"), std::string::npos);
}

TEST(frame, rejects_unknown_version_and_oversized_payload) {
  auto data = signed_frame(key(0), key(1).id(), "payload");
  auto v = data;
  v[2] = 9;
  auto f = wire::decode(v, 1024);
  ASSERT_FALSE(f);
  EXPECT_NE(f.err().message().find("unknown frame version 9"), std::string::npos);
  auto big = wire::decode(data, 3);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.err().code(), errc::frame_too_large);
}
