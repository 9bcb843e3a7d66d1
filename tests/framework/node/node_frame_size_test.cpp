// The largest message crypto.max_frame_bytes allows crosses a default loopback
// transport: the envelope around it (and the card in a first, prekey
// envelope) is larger than the payload, and a loopback limit equal to the
// payload limit took the message and then refused every attempt to send it
// (frame_too_large, retried until its TTL).
#include "framework/node/node_fixture.hpp"

using namespace aqua;
using namespace std::chrono_literals;
using namespace aqua::test::node_fixture;

TEST(node, the_largest_payload_allowed_crosses_the_default_loopback_first_and_later) {
  test::temp_dir tmp("node");
  auto p = start_introduced_pair(tmp, "frame-size");
  ASSERT_TRUE(p.alice && p.bob);
  auto& alice = p.alice;
  auto& bob = p.bob;
  // One byte over: refused at once, naming the largest payload that fits.
  auto over = alice->send(bob->id(), bytes((1u << 20) + 1, 'x'));
  ASSERT_FALSE(over);
  EXPECT_EQ(over.err().code(), errc::frame_too_large);
  const auto& why = over.err().message();
  const auto at = why.find("payload and topic together may take ");
  ASSERT_NE(at, std::string::npos) << why;
  const std::size_t largest = std::stoul(why.substr(at + 36));
  EXPECT_GT(largest, (1u << 20) - 64);
  for (char fill : {'a', 'b'}) {  // the first goes in a prekey envelope with alice's card, the second does not
    auto id = alice->send(bob->id(), bytes(largest, static_cast<std::uint8_t>(fill)));
    ASSERT_TRUE(id) << id.err().what();
    auto got = bob->receive(20s);
    ASSERT_TRUE(got) << got.err().what();
    EXPECT_EQ(got->message_id, *id);
    EXPECT_EQ(got->payload, bytes(largest, static_cast<std::uint8_t>(fill)));
    auto outcome = alice->await_outcome(*id, 10s);
    ASSERT_TRUE(outcome) << outcome.err().what();
  }
}
