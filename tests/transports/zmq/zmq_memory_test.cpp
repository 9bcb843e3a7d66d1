// The zmq plugin against a peer that speaks raw ZMTP 3 and never ends its
// multipart message: libzmq would keep every part (docs/transports.md,
// "Limits"); the listener's byte meter (zmq_meter.hpp) must cut it off.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "identity/keypair.hpp"
#include "support/eventually.hpp"
#include "transports/zmq/zmq_meter.hpp"
#include "zmq_fixture.hpp"

using namespace aqua;
using namespace std::chrono_literals;
using aqua::zmqt::byte_meter;

namespace {

// A TCP connection that has done the ZMTP 3.0 NULL handshake as `socket_type`: dialled to 127.0.0.1:`port`, or
// accepted on `listening` (a fake listener).
struct raw_zmtp {
  int fd = -1;
  int error = 0;  // errno of the send that failed
  raw_zmtp(std::uint16_t port, const char* socket_type) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    to.sin_port = htons(port);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    handshake(socket_type);
  }
  raw_zmtp(int listening, const char* socket_type, std::chrono::milliseconds wait) {
    pollfd p{listening, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, static_cast<int>(wait.count())), 1) << "nobody dialled the fake listener";
    fd = ::accept(listening, nullptr, nullptr);
    EXPECT_GE(fd, 0);
    handshake(socket_type);
  }
  void handshake(const char* socket_type) {
    timeval tv{2, 0};  // a send that cannot go on for 2 s counts as stopped
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::uint8_t greeting[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0};
    std::memcpy(greeting + 12, "NULL", 4);
    EXPECT_TRUE(put(greeting, sizeof greeting));
    const std::string type(socket_type);
    const std::string ready = std::string("\x05READY\x0bSocket-Type", 18) + std::string("\0\0\0", 3) +
                              static_cast<char>(type.size()) + type;
    const std::uint8_t head[2] = {0x04, static_cast<std::uint8_t>(ready.size())};
    EXPECT_TRUE(put(head, 2) && put(ready.data(), ready.size()));
    // The other side's greeting and READY: the handshake is over before the first part goes.
    std::uint8_t in[256];
    std::size_t got = 0;
    timeval rt{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
    while (got < 64 + 2 + 28) {
      auto k = ::recv(fd, in, sizeof in, 0);
      if (k <= 0) break;
      got += static_cast<std::size_t>(k);
    }
    EXPECT_GE(got, 64u + 2 + 28) << "no ZMTP greeting and READY from the other side";
  }
  ~raw_zmtp() { ::close(fd); }
  bool put(const void* p, std::size_t n) {
    auto* b = static_cast<const std::uint8_t*>(p);
    while (n > 0) {
      auto k = ::send(fd, b, n, MSG_NOSIGNAL);
      if (k <= 0) {
        error = k == 0 ? 0 : errno;
        return false;
      }
      b += k;
      n -= static_cast<std::size_t>(k);
    }
    return true;
  }
  // One long frame with the MORE flag: a part of a message that goes on.
  bool part(const bytes& body) {
    std::uint8_t head[9] = {0x03};
    for (int i = 0; i < 8; ++i) head[1 + i] = static_cast<std::uint8_t>(std::uint64_t(body.size()) >> (56 - 8 * i));
    return put(head, sizeof head) && put(body.data(), body.size());
  }
};

// Sends parts of one message that never ends: 16 MiB at full speed (the meter looks every 100 ms), then a
// trickle until the other side ends the connection (5 s at most). Returns the bytes sent.
std::size_t endless_message(raw_zmtp& hostile) {
  const bytes chunk(60000, 0x41);
  std::size_t sent = 0;
  while (sent < (16u << 20) && hostile.part(chunk)) sent += chunk.size();
  EXPECT_GT(sent, 6u << 20) << "ended before the allowance: " << std::strerror(hostile.error);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  bool cut = false;
  while (!cut && std::chrono::steady_clock::now() < deadline) {
    cut = !hostile.part(chunk);
    if (!cut) sent += chunk.size();
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(cut) << "the other side kept taking parts of a message that never ends: " << sent << " bytes";
  return sent;
}

} // namespace

TEST(zmq_meter, counts_zmtp_frame_headers_and_allows_the_handshake) {
  byte_meter m(1000, 5000);
  EXPECT_EQ(byte_meter::wire_size(0), 2u);
  EXPECT_EQ(byte_meter::wire_size(255), 257u);
  EXPECT_EQ(byte_meter::wire_size(256), 265u);
  m.opened(7);
  m.took(7, 500);
  m.took(8, 1 << 30);  // not opened: ignored
  EXPECT_FALSE(m.over(7, 500 + byte_meter::handshake_allowance + 1000, false));
  EXPECT_EQ(m.over(7, 500 + byte_meter::handshake_allowance + 1001, false), byte_meter::handshake_allowance + 1001);
  EXPECT_FALSE(m.over(7, 500 + byte_meter::handshake_allowance + 1001, true));  // paused: whole messages wait
  EXPECT_TRUE(m.over(7, 500 + byte_meter::handshake_allowance + 5001, true));
  EXPECT_FALSE(m.over(8, 1u << 31, false));
  // check(): struck twice in a row — over the allowance with no whole message taken since the check before.
  const auto big = 500 + byte_meter::handshake_allowance + 2000;
  EXPECT_FALSE(m.check(7, big, false));
  EXPECT_FALSE(m.check(7, 500, false));  // it was read
  EXPECT_FALSE(m.check(7, big, false));
  m.took(7, 10);                              // whole messages keep coming: a backlog, not an endless message
  EXPECT_FALSE(m.check(7, big + 10, false));
  m.took(7, 10);
  EXPECT_FALSE(m.check(7, big + 20, false));
  EXPECT_FALSE(m.check(7, big + 20, false));  // nothing taken: first strike
  EXPECT_EQ(m.check(7, big + 30, false), big + 30 - 520);
  m.closed(7);
  EXPECT_FALSE(m.over(7, 1u << 31, false));
  EXPECT_FALSE(m.check(7, 1u << 31, false));
}

// Measured 2026-11-27 before the meter: +1.6 GB in 4 s from one such peer. Here the listener must end the
// connection soon after 16 MiB (allowance with max_frame_bytes 1 MiB: about 6 MiB; plus the socket buffers).
TEST(zmq, a_peer_that_never_ends_its_multipart_message_is_cut_off) {
  transport_config cfg;
  cfg.settings = {{"max_frame_bytes", "1048576"}, {"handshake_timeout_ms", "60000"}};
  test::node_side server(true, cfg);
  raw_zmtp hostile(test::port_of(server.addr), "DEALER");
  std::printf("cut off after %zu bytes of one unfinished message\n", endless_message(hostile));
  // A well-behaved peer still gets in.
  test::node_side client(false);
  auto c = client.t->dial(server.addr + "/p2p/" + server.key.id().str());
  ASSERT_TRUE(c) << c.err().what();
  ASSERT_TRUE((*c)->send(bytes(200000, 7)));  // a frame of several parts
  ASSERT_TRUE(test::eventually([&] { return server.acc->count() == 1; }, 5s));
  std::optional<bytes> got;
  ASSERT_TRUE(test::eventually([&] { return (got = server.acc->first()->try_receive()).has_value(); }, 5s));
  EXPECT_EQ(got->size(), 200000u);
}

// The dialler's side: a fake listener at the dialled address (a contact card can name any address).
TEST(zmq, a_fake_listener_that_never_ends_its_multipart_message_is_cut_off) {
  transport_config cfg;
  cfg.settings = {{"max_frame_bytes", "1048576"}, {"handshake_timeout_ms", "60000"}};
  test::node_side client(false, cfg);
  const int listening = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  ::inet_pton(AF_INET, "127.0.0.1", &at.sin_addr);
  ASSERT_EQ(::bind(listening, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  ASSERT_EQ(::listen(listening, 4), 0);
  socklen_t len = sizeof at;
  ASSERT_EQ(::getsockname(listening, reinterpret_cast<sockaddr*>(&at), &len), 0);
  const auto someone = keypair::generate().id().str();
  auto c = client.t->dial("/ip4/127.0.0.1/tcp/" + std::to_string(ntohs(at.sin_port)) + "/p2p/" + someone);
  ASSERT_TRUE(c) << c.err().what();
  {
    raw_zmtp hostile(listening, "ROUTER", 5000ms);
    std::printf("cut off after %zu bytes of one unfinished message\n", endless_message(hostile));
  }
  ::close(listening);
}
