// One-time prekeys: two initiators that pick the same one from copies of one
// card both get a session; a used one is kept only for its keep time
// (docs/protocol/sessions.md, "One-time prekeys").
#include <gtest/gtest.h>

#include "e2ee_fixture.hpp"

using namespace aqua;
using namespace aqua::e2ee;
using test::msg_id;
using test::party;
using test::str;
using test::legacy_state;
using test::spent_count;

namespace {

constexpr std::int64_t hour = 3600 * 1000;

struct one_time_fixture : ::testing::Test {
  std::shared_ptr<deterministic_env> env = std::make_shared<deterministic_env>(5);
  std::uint32_t next_id = 1;

  // `to`'s card cut to its first one-time prekey: every sender picks that one.
  contact_card one_choice(const party& to) {
    auto card = to.verified_card(env->now_unix_ms());
    card.one_time_prekeys.resize(1);
    return card;
  }
  bytes seal(party& from, party& to, const contact_card& card, const std::string& text) {
    auto r = from.engine.seal(to.id(), &card, as_bytes(text), msg_id(next_id++), env->now_unix_ms() + hour);
    EXPECT_TRUE(r) << r.err().what();
    return r ? *r : bytes{};
  }
};

} // namespace

// The node_dedup flake of 2026-11-26: the second sender was refused with prekey_unavailable for ever.
TEST_F(one_time_fixture, two_senders_that_pick_the_same_one_time_prekey_from_one_card_copy_both_get_through) {
  auto alice = party::make(0, env), bob = party::make(1, env), carol = party::make(2, env);
  const auto card = one_choice(bob);
  const auto picked = card.one_time_prekeys[0].id;
  auto from_alice = seal(alice, bob, card, "from alice");
  auto from_carol = seal(carol, bob, card, "from carol");
  auto a = bob.engine.open(from_alice);
  ASSERT_TRUE(a) << a.err().what();
  env->advance_ms(hour / 2);
  auto c = bob.engine.open(from_carol);
  ASSERT_TRUE(c) << c.err().what();
  EXPECT_EQ(str(c->payload), "from carol");
  EXPECT_EQ(c->sender, carol.id());
  // Both sessions work both ways.
  auto reply = bob.engine.seal(carol.id(), nullptr, as_bytes("hi carol"), msg_id(100), env->now_unix_ms() + hour);
  ASSERT_TRUE(reply) << reply.err().what();
  auto back = carol.engine.open(*reply);
  ASSERT_TRUE(back) << back.err().what();
  EXPECT_EQ(str(back->payload), "hi carol");
  // The used one is never published again, and bob still holds 20 unused ones.
  auto fresh = bob.engine.card_template({}, {}, hour).one_time_prekeys;
  EXPECT_EQ(fresh.size(), 20u);
  for (const auto& k : fresh) EXPECT_NE(k.id, picked);
}

TEST_F(one_time_fixture, a_spent_one_time_prekey_is_deleted_after_its_keep_time) {
  engine_limits lim;
  lim.spent_one_time_keep_ms = 60000;
  auto alice = party::make(0, env), bob = party::make(1, env, lim), carol = party::make(2, env);
  const auto card = one_choice(bob);
  ASSERT_TRUE(bob.engine.open(seal(alice, bob, card, "first")));
  const auto with_spent = bob.engine.save();
  EXPECT_EQ(spent_count(with_spent), 1u);
  env->advance_ms(60000);
  auto late = bob.engine.open(seal(carol, bob, card, "a minute late"));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.err().code(), errc::prekey_unavailable) << late.err().what();
  const auto after = bob.engine.save();  // the secret is gone from the state too: 44 bytes (ID, keep time, key)
  EXPECT_EQ(spent_count(after), 0u);
  EXPECT_EQ(after.size(), with_spent.size() - 44);
}

TEST_F(one_time_fixture, keep_time_zero_deletes_a_one_time_prekey_on_first_use) {
  engine_limits lim;
  lim.spent_one_time_keep_ms = 0;
  auto alice = party::make(0, env), bob = party::make(1, env, lim), carol = party::make(2, env);
  const auto card = one_choice(bob);
  ASSERT_TRUE(bob.engine.open(seal(alice, bob, card, "first")));
  auto r = bob.engine.open(seal(carol, bob, card, "second"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::prekey_unavailable);
}

TEST_F(one_time_fixture, spent_one_time_prekeys_are_bounded_the_one_nearest_its_end_goes_first) {
  engine_limits lim;
  lim.max_spent_one_time = 2;
  auto bob = party::make(1, env, lim);
  auto card = bob.verified_card(env->now_unix_ms());
  std::vector<party> senders;
  for (std::uint8_t i = 0; i < 3; ++i) senders.push_back(party::make(10 + i, env));
  for (std::size_t i = 0; i < 3; ++i) {  // three first contacts, each on its own one-time prekey
    auto c = card;
    c.one_time_prekeys = {card.one_time_prekeys[i]};
    ASSERT_TRUE(bob.engine.open(seal(senders[i], bob, c, "hello")));
    env->advance_ms(1000);
  }
  auto dave = party::make(20, env);
  auto first = card;
  first.one_time_prekeys = {card.one_time_prekeys[0]};
  EXPECT_EQ(bob.engine.open(seal(dave, bob, first, "on the first")).err().code(), errc::prekey_unavailable);
  auto erin = party::make(21, env);  // dave's session stays on the first: a new sender for the third
  auto third = card;
  third.one_time_prekeys = {card.one_time_prekeys[2]};
  EXPECT_TRUE(bob.engine.open(seal(erin, bob, third, "on the third")));
}

TEST_F(one_time_fixture, spent_one_time_prekeys_survive_save_and_load_in_version_3) {
  auto alice = party::make(0, env), bob = party::make(1, env), carol = party::make(2, env);
  const auto card = one_choice(bob);
  ASSERT_TRUE(bob.engine.open(seal(alice, bob, card, "first")));
  const auto saved = bob.engine.save();  // version 4: bob made a card
  ASSERT_EQ(saved.at(0), engine_state_version_rotation);
  auto loaded = engine::load(saved, env);
  ASSERT_TRUE(loaded) << loaded.err().what();
  EXPECT_EQ(loaded->save(), saved);  // canonical
  // The same state as an aqua before 2026-11-28 wrote it (version 3) loads and saves back as it was.
  const auto v3 = legacy_state(saved, engine_state_version_spent);
  auto old = engine::load(v3, env);
  ASSERT_TRUE(old) << old.err().what();
  EXPECT_EQ(old->save(), v3);
  auto from_v3 = old->open(seal(carol, bob, card, "from version 3"));
  ASSERT_TRUE(from_v3) << from_v3.err().what();
  // A node's store: the meta blob (no sessions) carries them too.
  auto meta = bob.engine.take_changes().meta;
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->at(0), engine_state_version_rotation);
  EXPECT_EQ(spent_count(*meta), 1u);
  auto parts = engine::load_parts(*meta, {}, env);
  ASSERT_TRUE(parts) << parts.err().what();
  auto c = parts->open(seal(carol, bob, card, "after a restart"));
  ASSERT_TRUE(c) << c.err().what();
  EXPECT_EQ(str(c->payload), "after a restart");
}

TEST_F(one_time_fixture, a_version_3_state_without_spent_prekeys_is_refused) {
  auto bob = party::make(1, env);
  auto s = legacy_state(bob.engine.save(), engine_state_version);
  // Version 3 inserts a count of spent one-time prekeys after the unused ones; 0 is not canonical.
  const std::size_t after_otks = 1 + 32 + 32 + 4 + 32 + 1 + 4 + 4 + 36 * 20;
  s[0] = engine_state_version_spent;
  s.insert(s.begin() + static_cast<std::ptrdiff_t>(after_otks), {0, 0, 0, 0});
  auto r = engine::load(s, env);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_session_state);
  EXPECT_NE(r.err().message().find("0 spent one-time prekeys"), std::string::npos) << r.err().what();
}
