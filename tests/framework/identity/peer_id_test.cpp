#include <gtest/gtest.h>

#include "identity/keypair.hpp"

using namespace aqua;

namespace {
keypair from_byte(std::uint8_t b) {
  bytes seed(32, b);
  return keypair::from_seed(seed).value();
}
} // namespace

TEST(peer_id, matches_libp2p_vectors_for_fixed_seeds) {
  EXPECT_EQ(from_byte(0x00).id().str(), "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN");
  EXPECT_EQ(from_byte(0x01).id().str(), "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5");
}

TEST(peer_id, parse_round_trips_and_recovers_the_key) {
  auto kp = from_byte(0x01);
  auto parsed = peer_id::parse(kp.id().str());
  ASSERT_TRUE(parsed) << parsed.err().what();
  EXPECT_EQ(parsed->key(), kp.pub());
  EXPECT_EQ(parsed->str(), kp.id().str());
  EXPECT_EQ(parsed->to_bytes().size(), 38u);
}

TEST(peer_id, rejects_bad_base58) {
  auto r = peer_id::parse("12D3KooW0000");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_base58);
}

TEST(peer_id, rejects_wrong_multihash) {
  // sha2-256 multihash (an RSA-style peer ID: Qm...)
  auto r = peer_id::parse("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::wrong_multihash);
  // identity code but a length byte that does not match
  auto bytes_ = from_byte(1).id().to_bytes();
  bytes_[1] = 0x30;
  auto r2 = peer_id::from_bytes(bytes_);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.err().code(), errc::wrong_multihash);
}

TEST(peer_id, rejects_wrong_key_type) {
  auto b = from_byte(1).id().to_bytes();
  b[3] = 0x02;  // Secp256k1
  auto r = peer_id::parse(base58_encode(b));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::wrong_key_type);
  EXPECT_NE(r.err().message().find("Secp256k1"), std::string::npos);
}

TEST(peer_id, rejects_wrong_key_length) {
  auto b = from_byte(1).id().to_bytes();
  b.pop_back();
  b[1] = 35;  // multihash length consistent
  b[5] = 31;  // protobuf Data length consistent
  auto r = peer_id::parse(base58_encode(b));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::wrong_key_length);
}

TEST(peer_id, rejects_malformed_protobuf) {
  auto b = from_byte(1).id().to_bytes();
  b[2] = 0x10;  // not field 1 varint
  auto r = peer_id::parse(base58_encode(b));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_public_key_encoding);
}

TEST(keypair, signatures_verify_only_for_the_signed_message) {
  auto kp = from_byte(7);
  auto sig = kp.sign(as_bytes("hello"));
  EXPECT_TRUE(kp.pub().verify(as_bytes("hello"), sig));
  EXPECT_FALSE(kp.pub().verify(as_bytes("hellO"), sig));
  sig[0] ^= 1;
  EXPECT_FALSE(kp.pub().verify(as_bytes("hello"), sig));
  EXPECT_FALSE(from_byte(8).pub().verify(as_bytes("hello"), kp.sign(as_bytes("hello"))));
}

TEST(keypair, rejects_seed_of_wrong_length) {
  bytes seed(31, 0);
  auto r = keypair::from_seed(seed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::wrong_key_length);
}
