// A listener's limits on what an authenticated peer sends (docs/protocol/noise.md, "Framing over message
// transports"; docs/transports.md, "Limits"), driven by a raw DEALER that runs the Noise handshake itself and then
// sends data messages the zmq plugin would never make. Found by an independent implementation of the wire
// format written from the docs (2026-11-28).
#include <gtest/gtest.h>

#include <zmq.hpp>

#include <chrono>
#include <string>

#include "identity/keypair.hpp"
#include "node/transport_host.hpp"
#include "support/eventually.hpp"
#include "zmq_fixture.hpp"

using namespace aqua;
using namespace std::chrono_literals;
using aqua::test::close_watch;
using aqua::test::eventually;
using aqua::test::node_side;
using aqua::test::port_of;

namespace {

constexpr std::uint8_t handshake_kind = 1, data_kind = 2, reset_kind = 3;
constexpr std::size_t small_max_frame = 100000;  // two Noise messages' worth: a data message has at most 2 chunks

transport_config small_frames() {
  transport_config cfg;
  cfg.settings["max_frame_bytes"] = std::to_string(small_max_frame);
  return cfg;
}

// A DEALER with its own identity that completes the Noise XX handshake with the listener at `port`.
struct raw_peer {
  keypair key = keypair::generate();
  std::shared_ptr<node_transport_host> host = std::make_shared<node_transport_host>(key, system_env());
  std::unique_ptr<secure_session> session = host->new_session(true, std::nullopt);
  zmq::context_t ctx;
  zmq::socket_t sock{ctx, zmq::socket_type::dealer};

  explicit raw_peer(std::uint16_t port) {
    sock.set(zmq::sockopt::linger, 0);
    sock.set(zmq::sockopt::rcvtimeo, 5000);
    sock.connect("tcp://127.0.0.1:" + std::to_string(port));
    send_handshake();  // message 1
    auto two = receive();
    EXPECT_EQ(two.size(), 2u);
    if (two.size() == 2) {
      EXPECT_TRUE(session->handshake_input(two[1]));
    }
    send_handshake();  // message 3
    EXPECT_TRUE(session->established());
  }
  void send_handshake() {
    auto out = session->handshake_output();
    ASSERT_TRUE(out && *out);
    send({bytes{handshake_kind}, **out});
  }
  void send(const std::vector<bytes>& parts) {
    for (std::size_t i = 0; i < parts.size(); ++i)
      sock.send(zmq::buffer(parts[i].data(), parts[i].size()), i + 1 < parts.size() ? zmq::send_flags::sndmore
                                                                                     : zmq::send_flags::none);
  }
  // A data message carrying these Noise messages (sealed in order by our session).
  void send_data(const std::vector<bytes>& plaintexts) {
    std::vector<bytes> parts{bytes{data_kind}};
    for (auto& p : plaintexts) {
      auto sealed = session->seal(p);
      ASSERT_TRUE(sealed && sealed->size() == 1);
      parts.push_back(sealed->front());
    }
    send(parts);
  }
  std::vector<bytes> receive() {
    std::vector<bytes> out;
    zmq::message_t m;
    do {
      if (!sock.recv(m)) return out;
      out.emplace_back(m.data<std::uint8_t>(), m.data<std::uint8_t>() + m.size());
    } while (m.more());
    return out;
  }
};

} // namespace

TEST(zmq, a_data_message_with_more_chunks_than_max_frame_bytes_allows_ends_the_link_at_once) {
  // The listener dropped such a message unread and kept the link: its session then expected the Noise messages
  // the peer had sealed into it, so the next good frame failed, after a 10 s stall, with decrypt_failed.
  node_side server(true, small_frames());
  raw_peer peer(port_of(server.addr));
  ASSERT_TRUE(eventually([&] { return server.acc->count() == 1; }));
  auto watch = std::make_shared<close_watch>();
  server.acc->first()->set_observer(watch);
  peer.send_data({bytes(60000, 1), bytes(60000, 2), bytes(60000, 3)});  // 3 chunks: more than 100000 bytes allow
  ASSERT_TRUE(eventually([&] { return watch->get().has_value(); }, 3s));
  EXPECT_EQ(watch->get()->code(), errc::frame_too_large) << watch->get()->what();
  peer.send_data({bytes{7}});  // the session is gone: the listener asks for a new one
  auto answer = peer.receive();
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_EQ(answer[0], bytes{reset_kind});
}

TEST(zmq, a_frame_over_max_frame_bytes_in_few_enough_chunks_is_refused_not_handed_to_the_node) {
  // The chunk count bounded a frame only to about one Noise message above max_frame_bytes: 100001 bytes in two
  // chunks were handed to the node.
  node_side server(true, small_frames());
  raw_peer peer(port_of(server.addr));
  ASSERT_TRUE(eventually([&] { return server.acc->count() == 1; }));
  auto conn = server.acc->first();
  auto watch = std::make_shared<close_watch>();
  conn->set_observer(watch);
  peer.send_data({bytes(65519, 1), bytes(small_max_frame + 1 - 65519, 2)});
  ASSERT_TRUE(eventually([&] { return watch->get().has_value(); }, 3s));
  EXPECT_EQ(watch->get()->code(), errc::frame_too_large) << watch->get()->what();
  EXPECT_FALSE(conn->try_receive().has_value());
}

TEST(zmq, a_frame_of_exactly_max_frame_bytes_arrives) {
  node_side server(true, small_frames());
  raw_peer peer(port_of(server.addr));
  ASSERT_TRUE(eventually([&] { return server.acc->count() == 1; }));
  auto conn = server.acc->first();
  peer.send_data({bytes(65519, 1), bytes(small_max_frame - 65519, 2)});
  std::optional<bytes> got;
  ASSERT_TRUE(eventually([&] { return (got = conn->try_receive()).has_value(); }));
  EXPECT_EQ(got->size(), small_max_frame);
}
