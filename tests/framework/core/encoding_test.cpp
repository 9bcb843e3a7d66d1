#include <gtest/gtest.h>

#include "aqua/bytes.hpp"

using namespace aqua;

TEST(encoding, hex_round_trips) {
  bytes data{0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(to_hex(data), "0001abff");
  auto back = from_hex("0001ABff");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data);
}

TEST(encoding, hex_rejects_odd_length_and_bad_digits) {
  EXPECT_FALSE(from_hex("abc"));
  auto r = from_hex("zz");
  ASSERT_FALSE(r);
  EXPECT_NE(r.err().message().find("position 0"), std::string::npos);
}

TEST(encoding, base58_matches_bitcoin_vectors) {
  // Vectors from the base58 draft (draft-msporny-base58).
  EXPECT_EQ(base58_encode(as_bytes("Hello World!")), "2NEpo7TZRRrLZSi2U");
  EXPECT_EQ(base58_encode(as_bytes("The quick brown fox jumps over the lazy dog.")),
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z");
  bytes lead{0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd};
  EXPECT_EQ(base58_encode(lead), "11233QC4");
  auto back = base58_decode("11233QC4");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, lead);
}

TEST(encoding, base58_rejects_characters_outside_alphabet) {
  for (const char* bad : {"0abc", "abcO", "Il", "ab c", ""}) {
    auto r = base58_decode(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.err().code(), errc::bad_base58);
    }
  }
}

TEST(encoding, base58_round_trips_random_buffers) {
  for (std::size_t n = 0; n < 64; ++n) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 37 + n) % 256 * (i % 3 != 0));
    auto enc = base58_encode(b);
    if (n == 0) continue;
    auto dec = base58_decode(enc);
    ASSERT_TRUE(dec) << n;
    EXPECT_EQ(*dec, b) << n;
  }
}

TEST(encoding, constant_time_compare) {
  bytes a{1, 2, 3}, b{1, 2, 3}, c{1, 2, 4}, d{1, 2};
  EXPECT_TRUE(equal_ct(a, b));
  EXPECT_FALSE(equal_ct(a, c));
  EXPECT_FALSE(equal_ct(a, d));
}

TEST(errors, names_are_stable) {
  EXPECT_EQ(to_string(errc::bad_base58), "bad_base58");
  EXPECT_EQ(to_string(errc::plugin_abi_mismatch), "plugin_abi_mismatch");
  EXPECT_EQ(to_string(errc::insecure_permissions), "insecure_permissions");
  EXPECT_EQ(error(errc::timeout, "x").what(), "timeout: x");
}
