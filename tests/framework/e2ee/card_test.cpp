#include <gtest/gtest.h>

#include "e2ee_fixture.hpp"

using namespace aqua;
using namespace aqua::e2ee;

namespace {
std::shared_ptr<deterministic_env> clock_env() { return std::make_shared<deterministic_env>(7); }
} // namespace

TEST(card, signed_card_verifies_and_round_trips_through_text) {
  auto env = clock_env();
  auto alice = test::party::make(0, env);
  auto c = verify_card(alice.card, env->now_unix_ms());
  ASSERT_TRUE(c) << c.err().what();
  EXPECT_EQ(c->id().str(), "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN");
  EXPECT_EQ(c->addresses, std::vector<std::string>{"/memory/p0"});
  EXPECT_EQ(c->one_time_prekeys.size(), 20u);
  auto text = card_to_text(*c);
  EXPECT_EQ(text.rfind("aqua-card-v1:", 0), 0u);
  auto back = card_from_text("  " + text + "\n");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, alice.card);
}

TEST(card, any_flipped_byte_is_rejected) {
  auto env = clock_env();
  auto alice = test::party::make(0, env);
  for (std::size_t i = 0; i < alice.card.size(); ++i) {
    auto copy = alice.card;
    copy[i] ^= 0x04;
    auto r = verify_card(copy, env->now_unix_ms());
    EXPECT_FALSE(r) << "flip at " << i;
  }
}

TEST(card, tampered_field_gives_bad_signature) {
  auto env = clock_env();
  auto alice = test::party::make(0, env);
  auto c = decode_card(alice.card).value();
  c.addresses = {"/memory/mallory"};
  auto r = verify_card(encode_card(c), env->now_unix_ms());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_card_signature);
}

TEST(card, card_signed_by_another_key_is_rejected) {
  auto env = clock_env();
  auto alice = test::party::make(0, env);
  auto mallory = keypair::from_seed(bytes(32, 9)).value();
  auto c = decode_card(alice.card).value();
  c.signature = mallory.sign(card_signing_input(c));
  auto r = verify_card(encode_card(c), env->now_unix_ms());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_card_signature);
}

TEST(card, expired_and_future_cards_are_rejected) {
  auto env = clock_env();
  auto alice = test::party::make(0, env);
  auto c = decode_card(alice.card).value();
  auto r = verify_card(alice.card, c.expires_ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::card_expired);
  auto early = verify_card(alice.card, c.created_ms - max_clock_skew_ms - 1);
  ASSERT_FALSE(early);
  EXPECT_EQ(early.err().code(), errc::bad_card);
  EXPECT_NE(early.err().message().find("future"), std::string::npos);
}

TEST(card, malformed_cards_get_specific_errors) {
  auto env = clock_env();
  auto alice = test::party::make(0, env);
  auto v = alice.card;
  v[0] = 2;
  EXPECT_EQ(decode_card(v).err().code(), errc::unknown_version);
  for (std::size_t n = 0; n < alice.card.size(); ++n)
    EXPECT_EQ(decode_card(bytes_view(alice.card.data(), n)).err().code(), errc::bad_card) << n;
  auto longer = alice.card;
  longer.push_back(0);
  EXPECT_NE(decode_card(longer).err().message().find("trailing"), std::string::npos);
  EXPECT_FALSE(card_from_text("aqua-card-v1:***"));
  EXPECT_FALSE(card_from_text("ssh-ed25519 AAAA"));
}

TEST(card, safety_code_is_symmetric_and_distinguishes_pairs) {
  auto a = keypair::from_seed(bytes(32, 0)).value().pub();
  auto b = keypair::from_seed(bytes(32, 1)).value().pub();
  auto c = keypair::from_seed(bytes(32, 2)).value().pub();
  EXPECT_EQ(safety_code(a, b), safety_code(b, a));
  EXPECT_NE(safety_code(a, b), safety_code(a, c));
  EXPECT_EQ(safety_code(a, b).size(), 12u * 5 + 9 + 2 * 3);
}

TEST(card, own_card_fields_out_of_bounds_are_named_before_signing) {
  EXPECT_TRUE(check_card_fields({"/ip4/127.0.0.1/tcp/4001"}, {"research", "a.b/c-d_e"}));
  auto expect_refused = [](std::vector<std::string> addrs, std::vector<std::string> caps, const std::string& says) {
    auto r = check_card_fields(addrs, caps);
    ASSERT_FALSE(r) << says;
    EXPECT_EQ(r.err().code(), errc::invalid_argument);
    EXPECT_NE(r.err().message().find(says), std::string::npos) << r.err().message();
    EXPECT_EQ(r.err().message().find("at byte"), std::string::npos) << r.err().message();
  };
  expect_refused({}, {std::string(65, 'a')}, "is not 1 to 64 characters");
  expect_refused({}, {"Research"}, "capability 'Research'");
  expect_refused({}, {""}, "capability ''");
  expect_refused({}, std::vector<std::string>(33, "x"), "at most 32 capabilities, not 33");
  expect_refused({"not-an-address"}, {}, "card address:");
  expect_refused(std::vector<std::string>(17, "/ip4/127.0.0.1/tcp/1"), {}, "at most 16 addresses, not 17");
  expect_refused({"/dns/" + std::string(300, 'a') + "/tcp/1"}, {}, "longer than 256 bytes");
}
