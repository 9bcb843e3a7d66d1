// A dialled zmq connection whose TCP connection drops redoes its Noise handshake by itself
// (docs/transports.md, "Resuming"): with a restarted listener, with another identity at the address, with the
// listener gone for longer than resume_timeout_ms, and with frames of the old session read only after the drop.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

#include "identity/keypair.hpp"
#include "node/transport_host.hpp"
#include "support/eventually.hpp"
#include "zmq_fixture.hpp"

using namespace aqua;
using namespace std::chrono_literals;
using aqua::test::accept_all;
using aqua::test::close_watch;
using aqua::test::eventually;
using aqua::test::load;
using aqua::test::node_side;

namespace {

// A connection `client` dialled to `target` (a listener of `server`) with a close watch, once the listener accepted
// it (its first frame, 1, is there). `conn` is null if the dial failed (the failure is recorded).
struct watched_link {
  std::shared_ptr<connection> conn;
  std::shared_ptr<close_watch> watch = std::make_shared<close_watch>();
};
watched_link dial_watched(node_side& client, const std::string& target, node_side& server) {
  watched_link w;
  auto c = client.t->dial(target);
  EXPECT_TRUE(c) << (c ? "" : c.err().what());
  if (!c) return w;
  w.conn = *c;
  w.conn->set_observer(w.watch);
  EXPECT_TRUE(w.conn->send(bytes{1}));
  EXPECT_TRUE(eventually([&] { return server.acc->count() == 1; }));
  return w;
}

// A listener at `addr` with identity `key`, as a restarted node has it (no session state).
struct restarted_listener {
  std::shared_ptr<transport> t = load();
  std::shared_ptr<accept_all> acc = std::make_shared<accept_all>();
  restarted_listener(const keypair& key, const std::string& addr) {
    t->start(acc, std::make_shared<node_transport_host>(key, system_env()));
    EXPECT_TRUE(t->listen(addr));
  }
  ~restarted_listener() { t->stop(); }
};

} // namespace

// A listener that restarts (same address and identity, no session state): the dialled connection redoes its
// handshake once ZeroMQ has reconnected, without a frame to send, so the restarted side gets a connection it can
// answer on; frames sent on the old connection object arrive; it never closes.
TEST(zmq, a_dialled_connection_resumes_by_itself_when_its_listener_restarts) {
  auto server = std::make_unique<node_side>();
  const auto addr = server->addr;
  const auto key = server->key;
  node_side client(false);
  auto link = dial_watched(client, addr + "/p2p/" + key.id().str(), *server);
  ASSERT_TRUE(link.conn);
  server.reset();  // the listener process "restarts": same address, no session state
  restarted_listener again(key, addr);
  ASSERT_TRUE(eventually([&] { return again.acc->count() == 1; }, 10s)) << "the dialler did not resume by itself";
  auto resumed = again.acc->first();
  EXPECT_EQ(resumed->remote_peer(), client.key.id());
  ASSERT_TRUE(resumed->send(bytes{7}));  // the restarted side answers on it
  std::optional<bytes> back;
  ASSERT_TRUE(eventually([&] { return (back = link.conn->try_receive()).has_value(); }, 10s));
  EXPECT_EQ(back, (bytes{7}));
  ASSERT_TRUE(link.conn->send(bytes{2}));
  std::optional<bytes> got;
  ASSERT_TRUE(eventually([&] { return (got = resumed->try_receive()).has_value(); }, 10s));
  EXPECT_EQ(got, (bytes{2}));
  EXPECT_FALSE(link.watch->get().has_value()) << link.watch->get()->what();
  EXPECT_TRUE(link.conn->is_open());
}

// Frames of the old session that the dialler reads only after the drop (its reading was paused: a full inbound
// queue here, a stopped process in the review that found it) are dropped, not taken for a broken link: until
// 2026-11-28 they failed the resuming connection ("unexpected zmq message kind 2").
TEST(zmq, frames_of_the_old_session_read_after_the_drop_do_not_end_the_resumed_connection) {
  auto server = std::make_unique<node_side>();
  const auto addr = server->addr;
  const auto key = server->key;
  transport_config cfg;
  cfg.settings = {{"queue_frames", "2"}};
  node_side client(false, cfg);
  auto link = dial_watched(client, addr + "/p2p/" + key.id().str(), *server);
  ASSERT_TRUE(link.conn);
  auto accepted = server->acc->first();
  for (std::uint8_t i = 10; i < 16; ++i) ASSERT_TRUE(accepted->send(bytes{i}));  // 2 fill the queue, 4 wait in ZeroMQ
  std::this_thread::sleep_for(300ms);
  server.reset();                      // the TCP connection ends with frames of its session unread
  std::this_thread::sleep_for(500ms);  // the dialler sees the drop while its reading is paused
  int taken = 0;
  for (auto until = std::chrono::steady_clock::now() + 1s; std::chrono::steady_clock::now() < until;)
    if (link.conn->try_receive()) ++taken;  // reading resumes: the rest of the old session's frames are read now
    else std::this_thread::sleep_for(10ms);
  EXPECT_GE(taken, 2);
  EXPECT_FALSE(link.watch->get().has_value()) << link.watch->get()->what();
  restarted_listener again(key, addr);
  ASSERT_TRUE(eventually([&] { return again.acc->count() == 1; }, 10s)) << "the dialler did not resume";
  ASSERT_TRUE(again.acc->first()->send(bytes{7}));
  std::optional<bytes> back;
  ASSERT_TRUE(eventually([&] { return (back = link.conn->try_receive()).has_value(); }, 10s));
  EXPECT_EQ(back, (bytes{7}));
  EXPECT_FALSE(link.watch->get().has_value()) << link.watch->get()->what();
}

// The resumed handshake expects the identity the link had: another node at the address fails the connection.
TEST(zmq, a_dialled_connection_does_not_resume_with_another_identity_at_the_address) {
  auto server = std::make_unique<node_side>();
  const auto addr = server->addr;
  node_side client(false);
  auto link = dial_watched(client, addr, *server);  // no /p2p/: the first handshake took whoever answered
  ASSERT_TRUE(link.conn);
  EXPECT_EQ(link.conn->remote_peer(), server->key.id());
  server.reset();
  restarted_listener other(keypair::generate(), addr);
  ASSERT_TRUE(eventually([&] { return link.watch->get().has_value(); }, 15s));
  EXPECT_EQ(other.acc->count(), 0u);
  EXPECT_FALSE(link.conn->is_open());
}

// A listener gone for longer than resume_timeout_ms: the connection fails (routing redials with its next frame).
TEST(zmq, a_dialled_connection_whose_listener_stays_down_fails_after_the_resume_timeout) {
  auto server = std::make_unique<node_side>();
  transport_config cfg;
  cfg.settings = {{"resume_timeout_ms", "1000"}};
  node_side client(false, cfg);
  auto link = dial_watched(client, server->addr + "/p2p/" + server->key.id().str(), *server);
  ASSERT_TRUE(link.conn);
  server.reset();
  ASSERT_TRUE(eventually([&] { return link.watch->get().has_value(); }, 10s));
  EXPECT_EQ(link.watch->get()->code(), errc::timeout);
  EXPECT_NE(link.watch->get()->message().find("the TCP connection dropped and no new Noise handshake with "),
            std::string::npos)
    << link.watch->get()->what();
  EXPECT_NE(link.watch->get()->message().find("within 1000 ms (resume_timeout_ms)"), std::string::npos)
    << link.watch->get()->what();
}

