// send with a message_id (node.hpp): retries are safe, and the id stays bound
// to the recipient it was first used for.
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
  auto again = p.alice->send(seed_key(1).id(), bytes{'b'}, o);  // a retry: not sent a second time
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
  auto again = p.alice->send(seed_key(1).id(), bytes{'b'}, upper);  // the same id: a retry, not a new message
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
  auto b = p.alice->send_async(seed_key(1).id(), bytes{'b'}, o);
  auto ra = a.wait(10s);
  auto rb = b.wait(10s);
  ASSERT_TRUE(ra) << ra.err().what();
  ASSERT_TRUE(rb) << rb.err().what();
  auto m = p.bob->receive(10s);
  ASSERT_TRUE(m) << m.err().what();
  EXPECT_EQ(m->payload, bytes{'a'});
  EXPECT_FALSE(p.bob->receive(500ms));
}
