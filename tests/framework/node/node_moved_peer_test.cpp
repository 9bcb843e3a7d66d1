// A peer that moves to another address: its new card's address is used even
// though the connection to the old one once worked (routing, "suspect"). A
// peer that restarts at the same address: the connection dialled to it comes
// back by itself (zmq transport, "resume"), so it can answer a dialler that
// has no address of its own. A peer that connects gets what failed to reach
// it at once, not at the message's next retry. An address that another
// identity now answers at is reported as such (wrong_recipient).
#include "node_fixture.hpp"

#include <chrono>
#include <functional>

using namespace aqua;
using namespace aqua::test::node_fixture;

namespace {
const std::string zmq_yaml = "components: {}\ntransports:\n  - plugin: zmq\n    listen: [/ip4/127.0.0.1/tcp/0]\n";

// Starts bob (zmq, a port of his own), introduces him to alice, runs `while_up` with him, stops him: his address.
std::string bob_was_there(const test::temp_dir& tmp, node& alice, const std::function<void(node&)>& while_up = {}) {
  auto bob = node::start(make_node_dir(tmp, "bob", zmq_yaml, 1));
  EXPECT_TRUE(bob) << bob.err().what();
  if (!bob) return {};
  introduce(alice, **bob);
  if (while_up) while_up(**bob);
  return (*bob)->listen_addresses().front();
}
}

TEST(node, a_peer_that_moved_is_reached_at_its_new_address_after_the_old_connection_worked) {
  test::temp_dir tmp("node");
  auto b_cfg = make_node_dir(tmp, "bob", zmq_yaml, 1);
  auto alice = node::start(make_node_dir(tmp, "alice", zmq_yaml, 0));
  ASSERT_TRUE(alice) << alice.err().what();
  std::string old_address;
  {
    auto bob = node::start(b_cfg);
    ASSERT_TRUE(bob) << bob.err().what();
    introduce(**alice, **bob);
    old_address = (*bob)->listen_addresses().front();
    ASSERT_TRUE((*alice)->send(seed_key(1).id(), bytes{'1'}));
    ASSERT_TRUE((*bob)->receive(10s));  // the dialled connection worked (bob answered with the ack)
    ASSERT_TRUE(eventually([&] { return (*alice)->status()->outbox_pending == 0u; }));
  }
  auto bob = node::start(b_cfg);  // port 0: somewhere else now
  ASSERT_TRUE(bob) << bob.err().what();
  ASSERT_NE((*bob)->listen_addresses().front(), old_address);
  add_contact(**alice, (*bob)->card());  // bob's new card, with the new address
  ASSERT_TRUE((*alice)->send(seed_key(1).id(), bytes{'2'}));
  auto m = (*bob)->receive(20s);  // retries at ~0.5, 1.5, 3.5, 7.5 s; the old connection is suspect after 3 s
  ASSERT_TRUE(m) << "alice kept sending to " << old_address << ": " << m.err().what();
  EXPECT_EQ(m->payload, bytes{'2'});
}

TEST(node, a_peer_that_restarts_reaches_a_dialler_that_has_no_address_over_the_connection_the_dialler_opened) {
  test::temp_dir tmp("node");
  // alice only dials: her card has no address, so bob can reach her only over a connection she opened.
  auto alice = node::start(make_node_dir(tmp, "alice", "components: {}\ntransports:\n  - plugin: zmq\n", 0));
  ASSERT_TRUE(alice) << alice.err().what();
  const auto address = bob_was_there(tmp, **alice, [&](node& bob) {
    ASSERT_TRUE((*alice)->send(seed_key(1).id(), bytes{'1'}));
    ASSERT_TRUE(bob.receive(10s));
    ASSERT_TRUE(eventually([&] { return (*alice)->status()->outbox_pending == 0u; }));
  });
  ASSERT_FALSE(address.empty());
  // bob restarts at the same address (as a daemon restart does) and has something for alice, who sends nothing.
  auto bob = node::start(
    make_node_dir(tmp, "bob", "components: {}\ntransports:\n  - plugin: zmq\n    listen: [" + address + "]\n", 1));
  ASSERT_TRUE(bob) << bob.err().what();
  ASSERT_TRUE((*bob)->send(seed_key(0).id(), bytes{'2'}));
  auto m = (*alice)->receive(20s);
  ASSERT_TRUE(m) << "bob's message did not reach alice: " << m.err().what();
  EXPECT_EQ(m->payload, bytes{'2'});
  EXPECT_EQ(m->sender, seed_key(1).id());
}

TEST(node, a_peer_that_connects_gets_the_messages_that_failed_to_reach_it_at_once_not_at_their_next_retry) {
  test::temp_dir tmp("node");
  auto alice = node::start(make_node_dir(tmp, "alice", "components: {}\ntransports:\n  - plugin: zmq\n", 0));
  auto bob = node::start(make_node_dir(tmp, "bob", zmq_yaml, 1));
  ASSERT_TRUE(alice && bob);
  introduce(**alice, **bob);
  auto id = (*bob)->send(seed_key(0).id(), bytes{'x'});  // alice has no address: every attempt fails
  ASSERT_TRUE(id) << id.err().what();
  auto attempts = [&] {
    auto out = (*bob)->outbox();
    for (auto& m : out ? *out : std::vector<outbound_message>{})
      if (m.message_id == *id) return m.attempts;
    return 0u;
  };
  // Attempts at about 0, 0.5, 1.5, 3.5 and 7.5 s; the sixth is 8 s (+-20%) after the fifth.
  ASSERT_TRUE(eventually([&] { return attempts() >= 5; }, 30s, 50ms));
  const auto connected = std::chrono::steady_clock::now();
  ASSERT_TRUE((*alice)->send(seed_key(1).id(), bytes{'y'}));  // alice dials bob
  auto m = (*alice)->receive(20s);
  ASSERT_TRUE(m) << m.err().what();
  EXPECT_EQ(m->payload, bytes{'x'});
  EXPECT_LT(std::chrono::steady_clock::now() - connected, 4s) << "bob waited for the message's next retry";
}

TEST(node, an_address_now_held_by_another_identity_is_reported_as_wrong_recipient_by_diagnose_path) {
  test::temp_dir tmp("node");
  auto alice = node::start(make_node_dir(tmp, "alice", zmq_yaml, 0));
  ASSERT_TRUE(alice) << alice.err().what();
  const auto address = bob_was_there(tmp, **alice);
  ASSERT_FALSE(address.empty());
  // carol now listens where bob's card says bob is
  auto carol = node::start(
    make_node_dir(tmp, "carol", "components: {}\ntransports:\n  - plugin: zmq\n    listen: [" + address + "]\n", 2));
  ASSERT_TRUE(carol) << carol.err().what();
  ASSERT_TRUE((*alice)->send(seed_key(1).id(), bytes{'x'}));
  std::string last_error;
  ASSERT_TRUE(eventually([&] {
    auto d = (*alice)->diagnose_path(seed_key(1).id());
    if (!d) return false;
    for (auto& a : d->addresses)
      if (a.failures > 0) last_error = a.last_error;
    return !last_error.empty();
  }, 20s, 50ms));
  EXPECT_EQ(last_error.rfind("wrong_recipient: ", 0), 0u) << last_error;
  EXPECT_NE(last_error.find(seed_key(2).id().str()), std::string::npos) << last_error;
}
