// Signed prekey rotation and card renewal (docs/protocol/sessions.md, "Signed prekey rotation"; docs/protocol/cards.md,
// "Renewal"): a retired signed prekey stays usable as long as a card naming it may still be used, and no longer.
#include <gtest/gtest.h>

#include "e2ee/own_card.hpp"
#include "e2ee_fixture.hpp"

using namespace aqua;
using namespace aqua::e2ee;
using test::msg_id;
using test::party;
using test::str;

namespace {

constexpr std::int64_t hour = 3600 * 1000;
constexpr std::int64_t day = 24 * hour;

struct rotation : ::testing::Test {
  std::shared_ptr<deterministic_env> env = std::make_shared<deterministic_env>(11);
  std::uint32_t next_id = 1;

  engine_limits limits(std::int64_t grace_ms) {
    engine_limits l;
    l.retired_prekey_grace_ms = grace_ms;
    return l;
  }
  // `from` starts a session from `card` (bob's, as it was handed out) and bob opens it.
  result<opened_message> first_message(party& from, party& to, const contact_card& card) {
    auto m = from.engine.seal(to.id(), &card, as_bytes("hello"), msg_id(next_id++), env->now_unix_ms() + hour);
    EXPECT_TRUE(m) << m.err().what();
    return to.engine.open(*m);
  }
  // A card of `p`'s made now (as a node makes one), valid for `validity_ms`.
  contact_card new_card(party& p, std::int64_t validity_ms) {
    auto c = p.engine.card_template({"/memory/p"}, {}, validity_ms);
    c.signature = p.identity.sign(card_signing_input(c));
    EXPECT_TRUE(p.engine.set_own_card(encode_card(c)));
    return c;
  }
};

TEST_F(rotation, a_retired_signed_prekey_opens_first_messages_until_its_last_card_expires_plus_the_grace) {
  auto bob = party::make(1, env, limits(2 * day));  // the fixture's card: 30 days
  const auto old_card = bob.verified_card(env->now_unix_ms());
  const auto old_id = bob.engine.signed_prekey_id();
  env->advance_ms(15 * day);
  bob.engine.rotate_signed_prekey();
  EXPECT_EQ(bob.engine.signed_prekey_id(), old_id + 1);
  EXPECT_EQ(bob.engine.previous_signed_prekey_until_ms(), old_card.expires_ms + 2 * day);
  // A peer holding the old card a day before it expires still gets through.
  env->advance_ms(14 * day);
  auto alice = party::make(0, env);
  auto a = first_message(alice, bob, old_card);
  ASSERT_TRUE(a) << a.err().what();
  EXPECT_EQ(str(a->payload), "hello");
  // A message sealed then, delivered within the grace, too.
  auto carol = party::make(2, env);
  auto late = carol.engine.seal(bob.id(), &old_card, as_bytes("late"), msg_id(99), env->now_unix_ms() + 3 * day);
  ASSERT_TRUE(late);
  env->advance_ms(2 * day);
  ASSERT_TRUE(bob.engine.open(*late));
  // Past the grace the retired key is deleted, from the state too: first messages naming it are refused.
  env->advance_ms(day);
  auto dave = party::make(3, env);
  auto gone = first_message(dave, bob, old_card);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.err().code(), errc::prekey_unavailable) << gone.err().what();
  EXPECT_EQ(bob.engine.previous_signed_prekey_until_ms(), 0);
  auto reloaded = engine::load(bob.engine.save(), env);
  ASSERT_TRUE(reloaded) << reloaded.err().what();
  EXPECT_EQ(reloaded->previous_signed_prekey_until_ms(), 0);
}

TEST_F(rotation, an_idle_engine_forgets_a_retired_signed_prekey_when_asked_after_its_keep_time) {
  auto bob = party::make(1, env, limits(0));
  const auto card = bob.verified_card(env->now_unix_ms());
  bob.engine.rotate_signed_prekey();
  (void) bob.engine.take_changes();
  bob.engine.forget_expired_prekeys(card.expires_ms - 1);
  EXPECT_EQ(bob.engine.previous_signed_prekey_until_ms(), card.expires_ms);
  EXPECT_FALSE(bob.engine.take_changes().meta);
  bob.engine.forget_expired_prekeys(card.expires_ms);  // no seal, no open: the node's hourly call
  EXPECT_EQ(bob.engine.previous_signed_prekey_until_ms(), 0);
  auto meta = bob.engine.take_changes().meta;  // written, so the secret leaves the store too
  ASSERT_TRUE(meta);
  auto parts = engine::load_parts(*meta, {}, env);
  ASSERT_TRUE(parts) << parts.err().what();
  EXPECT_EQ(parts->previous_signed_prekey_until_ms(), 0);
}

TEST_F(rotation, a_card_made_with_a_longer_validity_keeps_its_signed_prekey_that_long) {
  auto bob = party::make(1, env, limits(0));
  auto long_card = new_card(bob, 365 * day);  // aqua card export --validity-days 365
  bob.engine.rotate_signed_prekey();
  EXPECT_EQ(bob.engine.previous_signed_prekey_until_ms(), long_card.expires_ms);
  EXPECT_FALSE(bob.engine.signed_prekey_rotation_safe(env->now_unix_ms() + 300 * day));
  env->advance_ms(300 * day);
  auto alice = party::make(0, env);
  auto a = first_message(alice, bob, long_card);
  EXPECT_TRUE(a) << a.err().what();
  EXPECT_TRUE(bob.engine.signed_prekey_rotation_safe(long_card.expires_ms));
}

TEST_F(rotation, the_new_signed_prekey_is_in_the_next_card_and_opens_its_first_messages) {
  auto bob = party::make(1, env, limits(day));
  bob.engine.rotate_signed_prekey();
  auto card = new_card(bob, 30 * day);
  EXPECT_EQ(card.signed_prekey_id, bob.engine.signed_prekey_id());
  EXPECT_EQ(bob.engine.signed_prekey_published_ms(), card.created_ms);
  auto alice = party::make(0, env);
  auto a = first_message(alice, bob, card);
  ASSERT_TRUE(a) << a.err().what();
  // and bob's reply in that session opens at alice's
  auto reply = bob.engine.seal(alice.id(), nullptr, as_bytes("hi"), msg_id(50), env->now_unix_ms() + hour);
  ASSERT_TRUE(reply) << reply.err().what();
  EXPECT_TRUE(alice.engine.open(*reply));
}

TEST_F(rotation, the_keep_times_survive_save_load_and_the_nodes_meta_blob_in_version_4) {
  auto bob = party::make(1, env, limits(day));
  const auto old_card = bob.verified_card(env->now_unix_ms());
  bob.engine.rotate_signed_prekey();
  new_card(bob, 10 * day);
  const auto saved = bob.engine.save();
  ASSERT_EQ(saved.at(0), engine_state_version_rotation);
  auto loaded = engine::load(saved, env);
  ASSERT_TRUE(loaded) << loaded.err().what();
  EXPECT_EQ(loaded->save(), saved);  // canonical
  EXPECT_EQ(loaded->previous_signed_prekey_until_ms(), old_card.expires_ms + day);
  EXPECT_EQ(loaded->signed_prekey_published_ms(), env->now_unix_ms());
  auto meta = bob.engine.take_changes().meta;
  ASSERT_TRUE(meta);
  auto parts = engine::load_parts(*meta, {}, env);
  ASSERT_TRUE(parts) << parts.err().what();
  EXPECT_EQ(parts->previous_signed_prekey_until_ms(), old_card.expires_ms + day);
  auto alice = party::make(0, env);
  auto a = first_message(alice, bob, old_card);  // the live engine; the loaded one below
  ASSERT_TRUE(a);
  auto carol = party::make(2, env);
  auto m = carol.engine.seal(bob.id(), &old_card, as_bytes("x"), msg_id(77), env->now_unix_ms() + hour);
  ASSERT_TRUE(m);
  EXPECT_TRUE(parts->open(*m)) << "the previous signed prekey came back from the meta blob";
}

TEST_F(rotation, a_version_4_state_without_any_signed_prekey_time_is_refused) {
  auto bob = party::make(1, env);
  auto s = test::legacy_state(bob.engine.save(), engine_state_version_spent);  // bob has no spent ones: count 0
  // Version 4 of the same state, with both times 0, is not canonical (it is written as version 1 to 3).
  s[0] = engine_state_version_rotation;
  s.insert(s.begin() + test::after_spk, 16, 0);
  auto r = engine::load(s, env);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_session_state);
  EXPECT_NE(r.err().message().find("version 4 without signed prekey times"), std::string::npos) << r.err().what();
}

TEST_F(rotation, a_card_is_renewed_once_half_its_validity_has_passed) {
  auto bob = party::make(1, env);  // a 30-day card made now
  const auto now = env->now_unix_ms();
  EXPECT_FALSE(plan_renewal(bob.engine, now + 15 * day - 1, 30 * day, false).renew);
  EXPECT_TRUE(plan_renewal(bob.engine, now + 15 * day, 30 * day, false).renew);
  EXPECT_TRUE(plan_renewal(bob.engine, now, 30 * day, true).renew);  // forced
  // The half is the card's own: a 2-day card made with `aqua card export` elsewhere does not matter, ours does.
  new_card(bob, 2 * day);
  EXPECT_TRUE(plan_renewal(bob.engine, now + day, 30 * day, false).renew);
  // No card yet (a node's first start): due.
  auto fresh = engine::create(party::make(2, env).identity.pub(), env);
  EXPECT_TRUE(plan_renewal(fresh, now, 30 * day, false).renew);
  EXPECT_FALSE(plan_renewal(fresh, now, 30 * day, false).rotate);  // nothing published yet
}

TEST_F(rotation, the_signed_prekey_rotates_at_a_renewal_once_published_half_the_validity_and_no_card_needs_the_previous) {
  auto bob = party::make(1, env, limits(7 * day));
  const auto start = env->now_unix_ms();
  // Published now (the fixture's card): not yet due, even when the renewal is forced.
  EXPECT_FALSE(plan_renewal(bob.engine, start + 14 * day, 30 * day, true).rotate);
  auto due = plan_renewal(bob.engine, start + 15 * day, 30 * day, false);
  EXPECT_TRUE(due.renew);
  EXPECT_TRUE(due.rotate);
  env->advance_ms(15 * day);
  bob.engine.rotate_signed_prekey();  // the previous one is kept until day 30 + 7
  new_card(bob, 30 * day);            // the new one published on day 15
  // Day 30: the new one is due, but the previous one's cards may still be in use.
  auto day30 = plan_renewal(bob.engine, start + 30 * day, 30 * day, false);
  EXPECT_TRUE(day30.renew);
  EXPECT_FALSE(day30.rotate);
  EXPECT_TRUE(plan_renewal(bob.engine, start + 37 * day, 30 * day, true).rotate);
  // A state from before 2026-11-28 has no publication time: its first card starts the clock.
  auto old = party::make(3, env);
  auto legacy = engine::load(test::legacy_state(old.engine.save(), engine_state_version), env);
  ASSERT_TRUE(legacy) << legacy.err().what();
  EXPECT_FALSE(plan_renewal(*legacy, env->now_unix_ms() + 100 * day, 30 * day, true).rotate);
}

} // namespace
