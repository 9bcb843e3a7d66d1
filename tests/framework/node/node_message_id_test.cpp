// send with a message_id (node.hpp): retries are safe, and the id stays bound
// to the recipient and the content it was first used for.
#include <atomic>
#include <cstdio>
#include <thread>

#include "node_fixture.hpp"

using namespace aqua;
using namespace aqua::test::node_fixture;

TEST(node, a_message_id_is_sent_once_and_not_reused_for_another_recipient) {
  test::temp_dir tmp("node");
  auto p = start_introduced_pair(tmp, "msgid");
  ASSERT_TRUE(p.alice && p.bob);
  send_options o;
  o.message_id = "0123456789abcdef0123456789abcdef";
  auto first = p.alice->send(seed_key(1).id(), bytes{'a'}, o);
  ASSERT_TRUE(first) << first.err().what();
  EXPECT_EQ(*first, o.message_id);
  auto again = p.alice->send(seed_key(1).id(), bytes{'a'}, o);  // a retry: not sent a second time
  ASSERT_TRUE(again) << again.err().what();
  auto m = p.bob->receive(10s);
  ASSERT_TRUE(m) << m.err().what();
  EXPECT_EQ(m->payload, bytes{'a'});
  EXPECT_FALSE(p.bob->receive(500ms));
  auto other = p.alice->send(seed_key(2).id(), bytes{'c'}, o);  // the same id for someone else: refused
  ASSERT_FALSE(other);
  EXPECT_EQ(other.err().code(), errc::invalid_argument);
  EXPECT_NE(other.err().message().find("already used for a message to " + seed_key(1).id().str()), std::string::npos)
    << other.err().message();
}

// Records are keyed by the lower-case id: an upper-case spelling of the same id used to miss the earlier record,
// overwrite it and be reported delivered while the receiver dropped it as a duplicate.
TEST(node, a_message_id_in_upper_case_is_the_same_id) {
  test::temp_dir tmp("node");
  auto p = start_introduced_pair(tmp, "msgidcase");
  ASSERT_TRUE(p.alice && p.bob);
  send_options lower;
  lower.message_id = "0123456789abcdef0123456789abcdef";
  send_options upper;
  upper.message_id = "0123456789ABCDEF0123456789ABCDEF";
  auto first = p.alice->send(seed_key(1).id(), bytes{'a'}, lower);
  ASSERT_TRUE(first) << first.err().what();
  auto again = p.alice->send(seed_key(1).id(), bytes{'a'}, upper);  // the same id: a retry, not a new message
  ASSERT_TRUE(again) << again.err().what();
  EXPECT_EQ(*again, lower.message_id);
  auto other = p.alice->send(seed_key(2).id(), bytes{'c'}, upper);  // and still bound to its recipient
  ASSERT_FALSE(other);
  EXPECT_EQ(other.err().code(), errc::invalid_argument);
  auto m = p.bob->receive(10s);
  ASSERT_TRUE(m) << m.err().what();
  EXPECT_EQ(m->payload, bytes{'a'});
  EXPECT_FALSE(p.bob->receive(500ms));
  auto out = p.alice->outbox();
  ASSERT_TRUE(out) << out.err().what();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].recipient, seed_key(1).id());
}

// Two sends with one id in the same turn (before the first is written): one message.
TEST(node, a_message_id_sent_twice_at_once_is_one_message) {
  test::temp_dir tmp("node");
  auto p = start_introduced_pair(tmp, "msgidtwice");
  ASSERT_TRUE(p.alice && p.bob);
  send_options o;
  o.message_id = "fedcba9876543210fedcba9876543210";
  auto a = p.alice->send_async(seed_key(1).id(), bytes{'a'}, o);
  auto b = p.alice->send_async(seed_key(1).id(), bytes{'a'}, o);
  auto ra = a.wait(10s);
  auto rb = b.wait(10s);
  ASSERT_TRUE(ra) << ra.err().what();
  ASSERT_TRUE(rb) << rb.err().what();
  auto m = p.bob->receive(10s);
  ASSERT_TRUE(m) << m.err().what();
  EXPECT_EQ(m->payload, bytes{'a'});
  EXPECT_FALSE(p.bob->receive(500ms));
}

// Accepting a repeat with other content as "a retry" dropped the new message silently: it is refused (conflict),
// whether the first send is still in its turn, being sealed and written, or on disk (across a restart).
TEST(node, a_message_id_repeated_with_another_payload_or_topic_is_refused) {
  test::temp_dir tmp("node");
  auto p = start_introduced_pair(tmp, "msgidcontent");
  ASSERT_TRUE(p.alice && p.bob);
  const auto bob = seed_key(1).id();
  auto id_of = [](int i) {
    char buf[33];
    std::snprintf(buf, sizeof buf, "%032x", 0xc0ffee00 + i);
    return std::string(buf);
  };
  constexpr int rounds = 24;
  for (int i = 0; i < rounds; ++i) {
    send_options o;
    o.message_id = id_of(i);
    auto a = p.alice->send_async(bob, bytes{'a', static_cast<std::uint8_t>(i)}, o);
    // 0 to ~1 ms apart: the repeat meets the first in the same turn, while it is sealed and written, or on disk.
    if (i % 4) std::this_thread::sleep_for(std::chrono::microseconds(80 * i));
    auto b = p.alice->send_async(bob, bytes{'b', static_cast<std::uint8_t>(i)}, o);
    auto ra = a.wait(10s);
    auto rb = b.wait(10s);
    ASSERT_TRUE(ra) << i << ": " << ra.err().what();
    ASSERT_FALSE(rb) << i << ": a repeat with another payload was taken as a retry";
    EXPECT_EQ(rb.err().code(), errc::conflict) << rb.err().what();
    EXPECT_NE(rb.err().message().find("another payload or topic"), std::string::npos) << rb.err().message();
  }
  for (int i = 0; i < rounds; ++i) {
    auto m = p.bob->receive(10s);
    ASSERT_TRUE(m) << i << ": " << m.err().what();
    EXPECT_EQ(m->payload[0], 'a');
  }
  EXPECT_FALSE(p.bob->receive(300ms));
  // The topic is part of the content; the exact repeat is still a retry.
  send_options t;
  t.message_id = id_of(100);
  t.topic = "status";
  ASSERT_TRUE(p.alice->send(bob, bytes{'x'}, t));
  t.topic = "other";
  auto topic_changed = p.alice->send(bob, bytes{'x'}, t);
  ASSERT_FALSE(topic_changed);
  EXPECT_EQ(topic_changed.err().code(), errc::conflict);
  // From the record on disk, after a restart.
  auto cfg = p.alice->config();
  p.alice.reset();
  auto again = node::start(cfg);
  ASSERT_TRUE(again) << again.err().what();
  t.topic = "status";
  auto retry = (*again)->send(bob, bytes{'x'}, t);
  ASSERT_TRUE(retry) << retry.err().what();
  EXPECT_EQ(*retry, t.message_id);
  auto changed = (*again)->send(bob, bytes{'y'}, t);
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.err().code(), errc::conflict) << changed.err().what();
}

TEST(node, sends_of_one_message_id_at_once_all_get_its_outcome) {
  // A repeat answered while the first copy was still being sealed or written found no outbox record to await:
  // several `aqua send --message-id X --wait` at once failed with not_found, one or two of three.
  test::temp_dir tmp("node");
  auto p = start_introduced_pair(tmp, "msgid-race");
  ASSERT_TRUE(p.alice && p.bob);
  for (int round = 0; round < 5; ++round) {
    send_options o;
    char id[33];
    std::snprintf(id, sizeof id, "%032x", 0xabc0 + round);
    o.message_id = id;
    std::vector<std::thread> senders;
    std::atomic<int> delivered{0};
    std::vector<std::string> errors(6);
    for (std::size_t t = 0; t < errors.size(); ++t)
      senders.emplace_back([&, t] {
        auto sent = p.alice->send(seed_key(1).id(), bytes{'r', static_cast<std::uint8_t>('0' + round)}, o);
        if (!sent) return void(errors[t] = "send: " + sent.err().what());
        auto outcome = p.alice->await_outcome(*sent, std::chrono::seconds(20));
        if (!outcome) return void(errors[t] = "await: " + outcome.err().what());
        if (outcome->state == "delivered") ++delivered;
      });
    for (auto& s : senders) s.join();
    for (auto& e : errors) EXPECT_EQ(e, "") << "round " << round;
    EXPECT_EQ(delivered.load(), 6) << "round " << round;
    auto m = p.bob->receive(10s);  // once
    ASSERT_TRUE(m) << m.err().what();
    EXPECT_EQ(m->message_id, o.message_id);
  }
  EXPECT_FALSE(p.bob->receive(300ms));
}

TEST(node, sending_to_a_blocked_contact_says_how_to_unblock_it) {
  test::temp_dir tmp("node");
  auto p = start_introduced_pair(tmp, "blocked-recipient");
  ASSERT_TRUE(p.alice && p.bob);
  ASSERT_TRUE(p.alice->set_contact_trust(p.bob->id().str(), "blocked"));
  auto sent = p.alice->send(p.bob->id(), bytes{'x'});
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.err().code(), errc::sender_blocked);
  EXPECT_NE(sent.err().message().find("is blocked in the contact book (unblock it with 'aqua contacts unblock " +
                                      p.bob->id().str() + "' to send to it)"),
            std::string::npos) << sent.err().what();
}
