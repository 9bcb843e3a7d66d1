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
