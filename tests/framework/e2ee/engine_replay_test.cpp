// The engine's replay window is keyed by (sender, message ID): message IDs are
// the senders' choice, so the same ID from two senders is two messages, while
// a copy from the same sender is still a replay (docs/protocol/envelope.md).
#include <gtest/gtest.h>

#include "e2ee_fixture.hpp"

using namespace aqua;
using namespace aqua::e2ee;
using test::msg_id;
using test::party;
using test::str;

namespace {

constexpr std::int64_t hour = 3600 * 1000;

// Bob deletes one-time prekeys on first use: his state stays in the version 1/2 layouts these tests are about
// (kept spent ones need version 3, one_time_prekey_test.cpp).
engine_limits spent_deleted() {
  engine_limits lim;
  lim.spent_one_time_keep_ms = 0;
  return lim;
}

struct trio : ::testing::Test {
  std::shared_ptr<deterministic_env> env = std::make_shared<deterministic_env>(5);
  party alice = party::make(0, env);
  party bob = party::make(1, env, spent_deleted());
  party carol = party::make(2, env);

  bytes seal(party& from, const std::string& text, std::uint32_t id) {
    auto card = bob.verified_card(env->now_unix_ms());
    auto r = from.engine.seal(bob.id(), from.engine.has_session(bob.id()) ? nullptr : &card, as_bytes(text),
                              msg_id(id), env->now_unix_ms() + hour);
    EXPECT_TRUE(r) << r.err().what();
    return *r;
  }
};

} // namespace

TEST_F(trio, the_same_message_id_from_two_senders_opens_twice) {
  auto a = seal(alice, "alice: invoice #1", 1);
  auto c = seal(carol, "carol: stop the job", 1);
  auto oa = bob.engine.open(a);
  ASSERT_TRUE(oa) << oa.err().what();
  EXPECT_EQ(oa->sender, alice.id());
  auto oc = bob.engine.open(c);
  ASSERT_TRUE(oc) << oc.err().what();
  EXPECT_EQ(oc->sender, carol.id());
  EXPECT_EQ(str(oc->payload), "carol: stop the job");
  EXPECT_EQ(oa->message_id, oc->message_id);
  EXPECT_TRUE(bob.engine.seen(alice.id(), msg_id(1)));
  EXPECT_TRUE(bob.engine.seen(carol.id(), msg_id(1)));
  EXPECT_FALSE(bob.engine.seen(bob.id(), msg_id(1)));
  // Copies from the same sender are still replays: the same bytes, and a new seal under the same id.
  EXPECT_EQ(bob.engine.open(a).err().code(), errc::replayed_message);
  EXPECT_EQ(bob.engine.open(c).err().code(), errc::replayed_message);
  auto resealed = seal(alice, "alice: invoice #1 again", 1);
  EXPECT_EQ(bob.engine.open(resealed).err().code(), errc::replayed_message);
  // The refused re-seal changed nothing: alice's next message still opens.
  auto next = bob.engine.open(seal(alice, "alice: invoice #2", 2));
  ASSERT_TRUE(next) << next.err().what();
  EXPECT_EQ(str(next->payload), "alice: invoice #2");
}

TEST_F(trio, the_replay_window_of_two_senders_survives_save_and_load) {
  ASSERT_TRUE(bob.engine.open(seal(alice, "a", 7)));
  ASSERT_TRUE(bob.engine.open(seal(carol, "c", 7)));
  auto saved = bob.engine.save();
  EXPECT_EQ(saved[0], engine_state_version_rotation);  // bob made a card
  auto bob2 = engine::load(saved, env);
  ASSERT_TRUE(bob2) << bob2.err().what();
  EXPECT_EQ(bob2->save(), saved);  // still canonical
  EXPECT_TRUE(bob2->seen(alice.id(), msg_id(7)));
  EXPECT_TRUE(bob2->seen(carol.id(), msg_id(7)));
  EXPECT_EQ(bob2->open(seal(alice, "a again", 7)).err().code(), errc::replayed_message);
  // Version 1 allowed one entry per message ID: this window is not a valid version 1 blob.
  auto as_v1 = test::legacy_state(saved, 1);
  auto refused = engine::load(as_v1, env);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.err().code(), errc::bad_session_state);
  // A (message ID, sender) pair twice is refused in version 2: the last entry (carol's) repeated.
  auto twice = saved;
  const std::size_t entry = message_id_size + 32;
  auto n = static_cast<std::uint32_t>(2);
  std::size_t count_at = twice.size() - 2 * entry - 4;
  EXPECT_EQ(twice[count_at + 3], n);
  twice[count_at + 3] = 3;
  twice.insert(twice.end(), saved.end() - static_cast<std::ptrdiff_t>(entry), saved.end());
  auto dup = engine::load(twice, env);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.err().code(), errc::bad_session_state);
}

TEST_F(trio, a_version_1_state_still_loads) {
  ASSERT_TRUE(bob.engine.open(seal(alice, "a", 1)));
  ASSERT_TRUE(bob.engine.open(seal(carol, "c", 2)));
  auto v1 = test::legacy_state(bob.engine.save(), 1);  // distinct message ids: as version 1 wrote them
  auto bob2 = engine::load(v1, env);
  ASSERT_TRUE(bob2) << bob2.err().what();
  EXPECT_TRUE(bob2->seen(alice.id(), msg_id(1)));
  EXPECT_TRUE(bob2->seen(carol.id(), msg_id(2)));
  EXPECT_FALSE(bob2->seen(alice.id(), msg_id(2)));
  auto back = bob2->save();
  EXPECT_EQ(back[0], engine_state_version);  // rewritten as version 2 (no card made since: no version 4 times)
  EXPECT_EQ(bytes(back.begin() + 1, back.end()), bytes(v1.begin() + 1, v1.end()));
  // The meta blob a node stores (no sessions, no replay window) is the same in both versions and stays 1.
  auto meta = bob2->take_changes().meta;
  ASSERT_TRUE(meta);
  EXPECT_EQ((*meta)[0], 1);
}
