// Every zmq transport of a process runs on one ZeroMQ context (an agent host
// has one transport per agent): its I/O and reaper threads are there once,
// and transports created and destroyed one after another never collide on
// the context's inproc endpoint names.
#include "support/threads.hpp"
#include "zmq_fixture.hpp"

using namespace aqua;
using test::threads_now;

TEST(zmq, transports_in_one_process_share_the_zeromq_threads) {
  auto first = test::load();
  ASSERT_TRUE(first);
  const auto with_one = threads_now();
  std::vector<std::shared_ptr<transport>> more;
  for (int i = 0; i < 8; ++i) {
    more.push_back(test::load());
    ASSERT_TRUE(more.back());
  }
  // Each transport adds its own I/O thread; with a context each it was three (ZeroMQ's I/O and reaper threads too).
  EXPECT_LE(threads_now() - with_one, 8u + 1u);
  for (auto& t : more) t->stop();
  first->stop();
}

// The context unbinds a closed socket's inproc endpoint only once its reaper thread gets to it: a name made from
// the address of the transport (or socket) was still taken when the next one was allocated there.
TEST(zmq, a_transport_created_where_a_destroyed_one_was_loads_and_listens) {
  test::node_side client(false);  // a transport that lives on: the context stays busy
  for (int i = 0; i < 200; ++i) {
    auto server = std::make_unique<test::node_side>();
    ASSERT_FALSE(server->addr.empty()) << "round " << i;
    auto c = client.t->dial(server->addr + "/p2p/" + server->key.id().str());
    ASSERT_TRUE(c) << "round " << i;
    server.reset();
    (*c)->close();
  }
}

// ZeroMQ closes a listening TCP socket in its I/O thread after the ZeroMQ socket is closed; in a shared context
// nothing waited for that, and a node restarted in place found its port taken. stop() now returns with it free.
TEST(zmq, a_stopped_listener_leaves_its_port_free_for_the_next_one_at_once) {
  test::node_side client(false);  // dials every listener: the context's I/O thread has connections to handle too
  const auto key = keypair::generate();
  std::string addr = "/ip4/127.0.0.1/tcp/0";
  for (int i = 0; i < 100; ++i) {
    auto t = test::load();
    ASSERT_TRUE(t) << "round " << i;
    t->start(std::make_shared<test::accept_all>(), std::make_shared<node_transport_host>(key, system_env()));
    auto bound = t->listen(addr);
    ASSERT_TRUE(bound) << "round " << i << ": " << bound.err().what();
    addr = *bound;  // the same port every round after the first
    auto c = client.t->dial(addr + "/p2p/" + key.id().str());
    ASSERT_TRUE(c);
    (void) (*c)->send(bytes{1});
    t->stop();
    (*c)->close();
  }
}
