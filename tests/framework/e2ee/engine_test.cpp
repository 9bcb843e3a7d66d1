#include <gtest/gtest.h>

#include "e2ee_fixture.hpp"

using namespace aqua;
using namespace aqua::e2ee;
using test::msg_id;
using test::party;
using test::str;

namespace {

constexpr std::int64_t hour = 3600 * 1000;

struct pair_fixture : ::testing::Test {
  std::shared_ptr<deterministic_env> env = std::make_shared<deterministic_env>(3);
  party alice = party::make(0, env);
  party bob = party::make(1, env);
  std::uint32_t next_id = 1;

  bytes seal(party& from, party& to, const std::string& text, bool with_card = true) {
    auto card = to.verified_card(env->now_unix_ms());
    auto r = from.engine.seal(to.id(), with_card ? &card : nullptr, as_bytes(text), msg_id(next_id++),
                              env->now_unix_ms() + hour);
    EXPECT_TRUE(r) << r.err().what();
    return *r;
  }
};

} // namespace

TEST_F(pair_fixture, sender_needs_only_the_card_and_recipient_learns_sender) {
  // bob is "offline": alice seals three messages before bob opens anything.
  auto m1 = seal(alice, bob, "one");
  auto m2 = seal(alice, bob, "two");
  auto m3 = seal(alice, bob, "three");
  auto o1 = bob.engine.open(m1);
  ASSERT_TRUE(o1) << o1.err().what();
  EXPECT_EQ(str(o1->payload), "one");
  EXPECT_EQ(o1->sender, alice.id());
  EXPECT_TRUE(o1->new_session);
  ASSERT_TRUE(o1->sender_card);
  EXPECT_EQ(o1->sender_card->id(), alice.id());
  EXPECT_EQ(str(bob.engine.open(m2)->payload), "two");
  EXPECT_EQ(str(bob.engine.open(m3)->payload), "three");
  EXPECT_EQ(bob.engine.session_count(), 1u);
}

TEST_F(pair_fixture, conversation_ratchets_in_both_directions) {
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 3; ++i) {
      auto m = seal(alice, bob, "a" + std::to_string(round * 10 + i), round == 0);
      auto o = bob.engine.open(m);
      ASSERT_TRUE(o) << o.err().what();
      EXPECT_EQ(str(o->payload), "a" + std::to_string(round * 10 + i));
    }
    auto reply = seal(bob, alice, "b" + std::to_string(round), false);  // bob has the session now
    auto o = alice.engine.open(reply);
    ASSERT_TRUE(o) << o.err().what();
    EXPECT_EQ(o->sender, bob.id());
    EXPECT_FALSE(o->sender_card);
  }
}

TEST_F(pair_fixture, out_of_order_delivery_within_the_window_decrypts) {
  std::vector<bytes> ms;
  for (int i = 0; i < 20; ++i) ms.push_back(seal(alice, bob, "m" + std::to_string(i)));
  for (int i : {0, 5, 3, 19, 1, 2, 4, 18, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}) {
    auto o = bob.engine.open(ms[i]);
    ASSERT_TRUE(o) << i << ": " << o.err().what();
    EXPECT_EQ(str(o->payload), "m" + std::to_string(i));
  }
}

TEST_F(pair_fixture, replayed_message_is_rejected) {
  auto m = seal(alice, bob, "once");
  ASSERT_TRUE(bob.engine.open(m));
  auto again = bob.engine.open(m);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.err().code(), errc::replayed_message);
}

TEST_F(pair_fixture, reused_message_key_under_a_new_message_id_is_rejected) {
  auto m = seal(alice, bob, "once");
  ASSERT_TRUE(bob.engine.open(m));
  auto forged = m;
  forged[2 + 1 + 38] ^= 0x01;  // first byte of the message id
  auto r = bob.engine.open(forged);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::reused_message_key);
}

TEST_F(pair_fixture, every_flipped_byte_and_truncation_is_rejected_without_state_damage) {
  auto first = seal(alice, bob, "establish");
  ASSERT_TRUE(bob.engine.open(first));
  auto m = seal(alice, bob, "target", false);
  for (std::size_t i = 0; i < m.size(); ++i) {
    auto copy = m;
    copy[i] ^= 0x20;
    EXPECT_FALSE(bob.engine.open(copy)) << "flip at " << i;
  }
  for (std::size_t n = 0; n < m.size(); ++n) EXPECT_FALSE(bob.engine.open(bytes_view(m.data(), n))) << n;
  auto o = bob.engine.open(m);  // the genuine one still opens afterwards
  ASSERT_TRUE(o) << o.err().what();
  EXPECT_EQ(str(o->payload), "target");
}

TEST_F(pair_fixture, wrong_recipient_unknown_version_and_expiry_have_their_own_errors) {
  auto carol = party::make(2, env);
  auto m = seal(alice, bob, "for bob");
  EXPECT_EQ(carol.engine.open(m).err().code(), errc::wrong_recipient);
  auto v = m;
  v[0] = 9;
  EXPECT_EQ(bob.engine.open(v).err().code(), errc::unknown_version);
  auto k = m;
  k[1] = 7;
  EXPECT_EQ(bob.engine.open(k).err().code(), errc::bad_envelope);
  env->advance_ms(2 * hour);
  EXPECT_EQ(bob.engine.open(m).err().code(), errc::message_expired);
}

TEST_F(pair_fixture, oversized_payload_and_body_are_refused) {
  e2ee::engine_limits small;
  small.max_payload = 100;
  auto tiny = party::make(4, env, small);
  auto card = bob.verified_card(env->now_unix_ms());
  auto r = tiny.engine.seal(bob.id(), &card, bytes(101, 1), msg_id(1), env->now_unix_ms() + hour);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::frame_too_large);
  auto big = seal(alice, tiny, std::string(5000, 'x'));
  EXPECT_EQ(tiny.engine.open(big).err().code(), errc::frame_too_large);
}

TEST_F(pair_fixture, skipping_too_many_keys_is_bounded) {
  e2ee::engine_limits lim;
  lim.ratchet.max_jump = 10;
  lim.tag_window = 64;
  auto b2 = party::make(5, env, lim);
  std::vector<bytes> ms;
  for (int i = 0; i < 13; ++i) ms.push_back(seal(alice, b2, "m" + std::to_string(i)));
  ASSERT_TRUE(b2.engine.open(ms[0]));
  auto r = b2.engine.open(ms[12]);  // would skip 11 keys
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::too_many_skipped);
  EXPECT_TRUE(b2.engine.open(ms[10]));  // skipping 9 is fine
}

TEST_F(pair_fixture, only_the_newest_skipped_keys_are_kept) {
  e2ee::engine_limits lim;
  lim.ratchet.max_skip = 3;
  auto b2 = party::make(5, env, lim);
  std::vector<bytes> ms;
  for (int i = 0; i < 8; ++i) ms.push_back(seal(alice, b2, "m" + std::to_string(i)));
  ASSERT_TRUE(b2.engine.open(ms[0]));
  ASSERT_TRUE(b2.engine.open(ms[7]));  // skips 1..6; keeps keys 4, 5, 6
  EXPECT_TRUE(b2.engine.open(ms[5]));
  EXPECT_FALSE(b2.engine.open(ms[2]));  // its key was dropped: bounded memory
}

TEST_F(pair_fixture, prekey_envelopes_beyond_the_window_are_found_by_their_ephemeral) {
  ASSERT_TRUE(bob.engine.open(seal(alice, bob, "first")));
  for (int i = 0; i < 300; ++i) seal(alice, bob, "lost " + std::to_string(i), false);
  auto o = bob.engine.open(seal(alice, bob, "still prekey", false));
  ASSERT_TRUE(o) << o.err().what();
  EXPECT_EQ(str(o->payload), "still prekey");
}

TEST_F(pair_fixture, a_long_gap_of_lost_messages_heals_for_a_likely_sender) {
  ASSERT_TRUE(bob.engine.open(seal(alice, bob, "first")));
  ASSERT_TRUE(alice.engine.open(seal(bob, alice, "reply", false)));  // session envelopes from now on
  for (int i = 0; i < 500; ++i) seal(alice, bob, "lost " + std::to_string(i), false);  // never delivered
  auto after = seal(alice, bob, "after the gap", false);
  EXPECT_EQ(bob.engine.open(after).err().code(), errc::unknown_session);  // beyond the indexed window
  auto hint = alice.id();
  auto o = bob.engine.open(after, {}, &hint);
  ASSERT_TRUE(o) << o.err().what();
  EXPECT_EQ(str(o->payload), "after the gap");
  ASSERT_TRUE(bob.engine.open(seal(alice, bob, "and on", false)));  // the window moved along
}

TEST_F(pair_fixture, session_state_survives_save_and_load) {
  ASSERT_TRUE(bob.engine.open(seal(alice, bob, "hello")));
  ASSERT_TRUE(alice.engine.open(seal(bob, alice, "hi", false)));
  auto pending = seal(alice, bob, "in flight", false);
  auto saved_bob = bob.engine.save();
  auto saved_alice = alice.engine.save();
  auto bob2 = engine::load(saved_bob, env);
  ASSERT_TRUE(bob2) << bob2.err().what();
  auto alice2 = engine::load(saved_alice, env);
  ASSERT_TRUE(alice2) << alice2.err().what();
  EXPECT_EQ(bob2->save(), saved_bob);  // encoding is canonical
  auto o = bob2->open(pending);
  ASSERT_TRUE(o) << o.err().what();
  EXPECT_EQ(str(o->payload), "in flight");
  auto back = bob2->seal(alice.id(), nullptr, as_bytes("after restart"), msg_id(999), env->now_unix_ms() + hour);
  ASSERT_TRUE(back) << back.err().what();
  auto o2 = alice2->open(*back);
  ASSERT_TRUE(o2) << o2.err().what();
  EXPECT_EQ(str(o2->payload), "after restart");
  // a replay across the restart is still caught
  EXPECT_EQ(bob2->open(pending).err().code(), errc::replayed_message);
}

TEST_F(pair_fixture, corrupt_state_is_a_clear_error) {
  auto s = alice.engine.save();
  auto v = s;
  v[0] = engine_state_version_rotation + 1;
  EXPECT_EQ(engine::load(v, env).err().code(), errc::unknown_version);
  for (std::size_t n = 0; n < s.size(); n += 7) EXPECT_FALSE(engine::load(bytes_view(s.data(), n), env)) << n;
}

TEST_F(pair_fixture, previous_signed_prekey_still_works_after_rotation) {
  auto card = bob.verified_card(env->now_unix_ms());
  bob.engine.rotate_signed_prekey();
  auto m = alice.engine.seal(bob.id(), &card, as_bytes("late"), msg_id(1), env->now_unix_ms() + hour);
  ASSERT_TRUE(bob.engine.open(*m));
  bob.engine.rotate_signed_prekey();
  auto carol = party::make(2, env);
  auto m2 = carol.engine.seal(bob.id(), &card, as_bytes("too late"), msg_id(2), env->now_unix_ms() + hour);
  EXPECT_EQ(bob.engine.open(*m2).err().code(), errc::prekey_unavailable);
}

TEST_F(pair_fixture, no_plaintext_or_sender_identity_in_the_envelope) {
  auto m = seal(alice, bob, "SECRET-PAYLOAD-0123456789");
  std::string raw(m.begin(), m.end());
  EXPECT_EQ(raw.find("SECRET-PAYLOAD"), std::string::npos);
  auto ak = alice.identity.pub().raw();
  EXPECT_EQ(raw.find(std::string(ak.begin(), ak.end())), std::string::npos);
  auto aid = alice.id().to_bytes();
  EXPECT_EQ(raw.find(std::string(aid.begin(), aid.end())), std::string::npos);
  auto card_addr = std::string("/memory/p0");
  EXPECT_EQ(raw.find(card_addr), std::string::npos);
}

TEST_F(pair_fixture, seal_without_session_or_card_says_so) {
  auto r = alice.engine.seal(bob.id(), nullptr, as_bytes("x"), msg_id(1), env->now_unix_ms() + hour);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::unknown_session);
}

TEST_F(pair_fixture, session_table_is_bounded_and_one_time_prekeys_are_replenished) {
  e2ee::engine_limits lim;
  lim.max_sessions = 2;
  auto b2 = party::make(6, env, lim);
  auto carol = party::make(2, env), dave = party::make(3, env);
  auto from_alice = seal(alice, b2, "a1");
  ASSERT_TRUE(b2.engine.open(from_alice));
  env->advance_ms(10);
  ASSERT_TRUE(b2.engine.open(seal(carol, b2, "c1")));
  env->advance_ms(10);
  ASSERT_TRUE(b2.engine.open(seal(dave, b2, "d1")));  // evicts alice's, the least recently active
  EXPECT_EQ(b2.engine.session_count(), 2u);
  // Alice's next envelope still carries her prekey block (b2 never replied): its one-time prekey is kept as
  // spent, so b2 sets her session up again, evicting the least recently active one (carol's).
  auto later = seal(alice, b2, "a2", false);
  EXPECT_TRUE(b2.engine.open(later));
  EXPECT_EQ(b2.engine.session_count(), 2u);
  EXPECT_EQ(b2.engine.card_template({}, {}, hour).one_time_prekeys.size(), lim.one_time_prekeys);
}

TEST_F(pair_fixture, skipped_keys_expire) {
  e2ee::engine_limits lim;
  lim.ratchet.skipped_ttl_ms = 1000;
  lim.expire_every = 1;
  auto b2 = party::make(7, env, lim);
  std::vector<bytes> ms;
  for (int i = 0; i < 4; ++i) ms.push_back(seal(alice, b2, "m" + std::to_string(i)));
  ASSERT_TRUE(b2.engine.open(ms[0]));
  ASSERT_TRUE(b2.engine.open(ms[3]));  // keys for 1 and 2 are stored as skipped
  env->advance_ms(2000);
  ASSERT_TRUE(b2.engine.open(seal(alice, b2, "fresh", false)));  // sweeps expired keys
  EXPECT_FALSE(b2.engine.open(ms[1]));
}

// A receive that turns the conversation round derives the new receiving
// chain and key pair at once; the sending chain's DH waits for the next
// seal, or for complete_pending_step. Either way the bytes on the wire are
// those of the spec's eager step.
TEST_F(pair_fixture, sending_step_left_pending_by_a_receive_gives_the_same_envelope_either_way) {
  auto run = [](bool complete_while_idle) {
    auto e = std::make_shared<deterministic_env>(3);
    auto a = party::make(0, e);
    auto b = party::make(1, e);
    auto card = b.verified_card(e->now_unix_ms());
    auto first = a.engine.seal(b.id(), &card, as_bytes("hello"), msg_id(1), e->now_unix_ms() + hour);
    EXPECT_FALSE(b.engine.complete_pending_step(a.id()).value());  // no session yet
    EXPECT_TRUE(b.engine.open(*first));
    if (complete_while_idle) {
      EXPECT_TRUE(b.engine.complete_pending_step(a.id()).value());
      EXPECT_FALSE(b.engine.complete_pending_step(a.id()).value());  // done: nothing pending
    }
    auto reply = b.engine.seal(a.id(), nullptr, as_bytes("hi"), msg_id(2), e->now_unix_ms() + hour);
    auto o = a.engine.open(*reply);
    EXPECT_TRUE(o);
    EXPECT_EQ(o ? str(o->payload) : "", "hi");
    return *reply;
  };
  EXPECT_EQ(run(true), run(false));
}

TEST_F(pair_fixture, pending_sending_step_survives_save_and_load) {
  ASSERT_TRUE(bob.engine.open(seal(alice, bob, "hello")));
  auto saved = bob.engine.save();
  auto bob2 = engine::load(saved, env);
  ASSERT_TRUE(bob2) << bob2.err().what();
  EXPECT_EQ(bob2->save(), saved);
  auto copy = engine::load(saved, env);
  ASSERT_TRUE(copy->complete_pending_step(alice.id()).value());  // the step is still pending after the load
  auto reply = bob2->seal(alice.id(), nullptr, as_bytes("after restart"), msg_id(50), env->now_unix_ms() + hour);
  ASSERT_TRUE(reply) << reply.err().what();
  auto o = alice.engine.open(*reply);
  ASSERT_TRUE(o) << o.err().what();
  EXPECT_EQ(str(o->payload), "after restart");
}

TEST(ratchet_state, pending_sending_step_with_a_sending_chain_is_refused) {
  deterministic_env e(5);
  key32 shared{}, their{};
  shared.fill(1);
  their = x25519_keypair::generate(e).pub;
  auto r = ratchet::init_initiator(shared, their, e);  // CKs and DHr present
  bytes state;
  r.encode(state);
  codec::reader ok_reader(state);
  EXPECT_TRUE(ratchet::decode(ok_reader));
  state[32] |= 8;  // flags: "sending step pending" while CKs is present
  codec::reader bad_reader(state);
  auto bad = ratchet::decode(bad_reader);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.err().code(), errc::bad_session_state);
  state[32] = 8 | 2;  // pending without the peer's key
  codec::reader bad_reader2(state);
  EXPECT_FALSE(ratchet::decode(bad_reader2));
}
