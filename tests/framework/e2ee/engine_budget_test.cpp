// The two costly steps of engine::open — a new responder session (X3DH) and a
// search past the tag window — are budgeted per likely sender when the caller
// asks (a live connection authenticated to that peer): a peer cannot make us do
// them as fast as it can send. Past a budget the open fails with
// quota_exceeded and changes nothing, so the same envelope opens later.
#include <gtest/gtest.h>

#include "e2ee/envelope.hpp"
#include "e2ee_fixture.hpp"

using namespace aqua;
using namespace aqua::e2ee;
using test::msg_id;
using test::party;
using test::str;

namespace {

constexpr std::int64_t hour = 3600 * 1000;

engine_limits budgets(std::size_t setups, std::size_t searches) {
  engine_limits lim;
  lim.session_setups_per_peer_per_s = setups;
  lim.searches_per_peer_per_s = searches;
  return lim;
}

struct budget_fixture : ::testing::Test {
  std::shared_ptr<deterministic_env> env = std::make_shared<deterministic_env>(9);
  party bob = party::make(1, env, budgets(4, 2));
  party mallory = party::make(6, env);

  // A first message from a fresh party to bob: a prekey envelope with a new ephemeral key.
  bytes first_from(std::uint8_t seed, const std::string& text) {
    auto p = party::make(seed, env);
    auto card = bob.verified_card(env->now_unix_ms());
    return p.engine.seal(bob.id(), &card, as_bytes(text), msg_id(seed), env->now_unix_ms() + hour).value();
  }
  // The same with its identity block damaged: the open pays the X3DH DH steps, then fails.
  bytes forged_first(std::uint8_t seed) {
    auto e = decode_envelope(first_from(seed, "forged"), 1 << 20).value();
    e.prekey.identity_block[3] ^= 0x40;
    return encode_envelope(e);
  }
  result<opened_message> open_from_mallory(const bytes& envelope, bool limited = true) {
    auto hint = mallory.id();
    return bob.engine.open(envelope, {}, &hint, limited);
  }
};

} // namespace

TEST_F(budget_fixture, forged_prekey_envelopes_past_the_budget_are_refused_before_any_key_agreement) {
  for (std::uint8_t i = 0; i < 4; ++i)
    EXPECT_EQ(open_from_mallory(forged_first(10 + i)).err().code(), errc::decrypt_failed) << int(i);
  auto refused = open_from_mallory(forged_first(20));
  EXPECT_EQ(refused.err().code(), errc::quota_exceeded);
  EXPECT_NE(refused.err().message().find(mallory.id().str()), std::string::npos) << refused.err().what();
  // A genuine first message on the same connection waits as well, and opens once the budget refilled.
  auto genuine = first_from(30, "hello from carol");
  EXPECT_EQ(open_from_mallory(genuine).err().code(), errc::quota_exceeded);
  EXPECT_EQ(bob.engine.session_count(), 0u);
  env->advance_ms(250);  // 4 a second: one more
  auto o = open_from_mallory(genuine);
  ASSERT_TRUE(o) << o.err().what();
  EXPECT_EQ(str(o->payload), "hello from carol");
  EXPECT_EQ(open_from_mallory(forged_first(21)).err().code(), errc::quota_exceeded);
}

TEST_F(budget_fixture, the_budget_is_per_sender_and_only_when_the_caller_asks) {
  for (std::uint8_t i = 0; i < 5; ++i) (void) open_from_mallory(forged_first(10 + i));
  EXPECT_EQ(open_from_mallory(forged_first(15)).err().code(), errc::quota_exceeded);
  // Another connection's peer has its own budget.
  auto other = party::make(7, env).id();
  EXPECT_EQ(bob.engine.open(forged_first(16), {}, &other, true).err().code(), errc::decrypt_failed);
  // Unlimited: no hint (not bound to a peer), or the caller did not ask (e.g. mail a relay held, bounded by its
  // quotas).
  EXPECT_EQ(bob.engine.open(forged_first(17)).err().code(), errc::decrypt_failed);
  EXPECT_EQ(open_from_mallory(forged_first(18), false).err().code(), errc::decrypt_failed);
  auto o = bob.engine.open(first_from(31, "no hint"), {}, nullptr, true);
  ASSERT_TRUE(o) << o.err().what();
}

TEST_F(budget_fixture, searches_past_the_window_are_budgeted_and_a_refused_envelope_opens_later) {
  // Mallory has a session with bob; 500 of her messages are lost, so the next ones lie past the window.
  auto card = bob.verified_card(env->now_unix_ms());
  auto seal = [&](const std::string& text, std::uint32_t id) {
    auto first = !mallory.engine.has_session(bob.id());
    return mallory.engine.seal(bob.id(), first ? &card : nullptr, as_bytes(text), msg_id(id), env->now_unix_ms() + hour)
      .value();
  };
  ASSERT_TRUE(open_from_mallory(seal("first", 1)));
  auto reply = bob.engine.seal(mallory.id(), nullptr, as_bytes("hi"), msg_id(2), env->now_unix_ms() + hour);
  ASSERT_TRUE(mallory.engine.open(*reply));  // her envelopes are session envelopes from now on
  for (std::uint32_t i = 0; i < 500; ++i) seal("lost", 100 + i);
  auto far = seal("after the gap", 1000);
  // Junk tags make bob search her session in vain, twice a second at most.
  auto junk = [&] {
    auto e = decode_envelope(seal("junk", 2000), 1 << 20).value();
    e.tag[0] ^= 0xff;
    return encode_envelope(e);
  };
  EXPECT_EQ(open_from_mallory(junk()).err().code(), errc::unknown_session);
  EXPECT_EQ(open_from_mallory(junk()).err().code(), errc::unknown_session);
  EXPECT_EQ(open_from_mallory(far).err().code(), errc::quota_exceeded);
  env->advance_ms(500);
  auto o = open_from_mallory(far);
  ASSERT_TRUE(o) << o.err().what();
  EXPECT_EQ(str(o->payload), "after the gap");
}
