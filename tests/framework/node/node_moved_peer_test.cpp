// A peer that moves to another address: its new card's address is used even
// though the connection to the old one once worked (routing, "suspect").
#include "node_fixture.hpp"

using namespace aqua;
using namespace aqua::test::node_fixture;

namespace {
const std::string zmq_yaml = "components: {}\ntransports:\n  - plugin: zmq\n    listen: [/ip4/127.0.0.1/tcp/0]\n";
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
