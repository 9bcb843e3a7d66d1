// The zmq plugin against a peer that speaks raw ZMTP 3 and never ends its
// multipart message: libzmq would keep every part (docs/transports.md,
// "Limits"); the listener's byte meter (zmq_meter.hpp) must cut it off.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
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
  // One short frame (at most 255 bytes).
  bool short_part(const bytes& body, bool more) {
    const std::uint8_t head[2] = {static_cast<std::uint8_t>(more ? 0x01 : 0x00), static_cast<std::uint8_t>(body.size())};
    return put(head, 2) && put(body.data(), body.size());
  }
  // Bytes that arrive within the receive timeout (2 s); -1 when the other side closed the connection.
  long drain() {
    std::uint8_t in[4096];
    long got = 0;
    for (;;) {
      auto k = ::recv(fd, in, sizeof in, 0);
      if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return -1;
      if (k < 0) return got;
      got += k;
    }
  }
  // One long frame with the MORE flag (a part of a message that goes on) or without (a whole message).
  bool part(const bytes& body, bool more = true) {
    std::uint8_t head[9] = {static_cast<std::uint8_t>(more ? 0x03 : 0x02)};
    for (int i = 0; i < 8; ++i) head[1 + i] = static_cast<std::uint8_t>(std::uint64_t(body.size()) >> (56 - 8 * i));
    return put(head, sizeof head) && put(body.data(), body.size());
  }
};

// Sends parts of one message that never ends (or, `more` false, whole messages of one part): 16 MiB at full
// speed (the meter looks every 100 ms), then a trickle until the other side ends the connection (5 s at most).
// Returns the bytes sent.
std::size_t endless_message(raw_zmtp& hostile, bool more = true) {
  const bytes chunk(60000, 0x41);
  std::size_t sent = 0;
  while (sent < (16u << 20) && hostile.part(chunk, more)) sent += chunk.size();
  EXPECT_GT(sent, 6u << 20) << "ended before the allowance: " << std::strerror(hostile.error);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  bool cut = false;
  while (!cut && std::chrono::steady_clock::now() < deadline) {
    cut = !hostile.part(chunk, more);
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
  auto check = [&m](std::uint64_t read, bool paused = false) -> std::optional<std::uint64_t> {
    auto v = m.check({{7, read}}, paused);
    if (v.empty()) return std::nullopt;
    EXPECT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].fd, 7);
    return v[0].held;
  };
  const auto big = 500 + byte_meter::handshake_allowance + 2000;
  EXPECT_FALSE(check(big));
  EXPECT_FALSE(check(500));  // it was read
  EXPECT_FALSE(check(big));
  m.took(7, 10);                              // whole messages keep coming: a backlog, not an endless message
  EXPECT_FALSE(check(big + 10));
  m.took(7, 10);
  EXPECT_FALSE(check(big + 20));
  EXPECT_FALSE(check(big + 20));  // nothing taken: first strike
  EXPECT_EQ(check(big + 30), big + 30 - 520);
  m.closed(7);
  EXPECT_FALSE(m.over(7, 1u << 31, false));
  EXPECT_FALSE(check(1u << 31));
}

// A paused listener allows each connection hwm whole messages; all of them together may hold max_held_bytes.
TEST(zmq_meter, a_socket_over_its_total_strikes_its_largest_stuck_holders_until_the_rest_fit) {
  byte_meter m(1000, 1u << 30, 100000);
  for (int fd : {3, 4, 5, 6}) m.opened(fd);
  const auto h = byte_meter::handshake_allowance;
  // 40k + 30k + 20k + 5k: within the total, nobody struck however long it lasts.
  const std::vector<byte_meter::sample> within = {{3, 40000}, {4, 30000}, {5, 20000}, {6, 5000}};
  EXPECT_TRUE(m.check(within, true).empty());
  EXPECT_TRUE(m.check(within, true).empty());
  // 90k + 30k + 20k + 5k = 145k: fd 3 alone brings the rest (55k) within 100k.
  const std::vector<byte_meter::sample> over = {{3, 90000}, {4, 30000}, {5, 20000}, {6, 5000}};
  EXPECT_TRUE(m.check(over, true).empty());  // first strike
  auto v = m.check(over, true);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].fd, 3);
  EXPECT_EQ(v[0].held, 90000u);
  EXPECT_EQ(v[0].socket_held, 145000u);
  m.closed(3);
  // 3 gone; 4 and 5 grow to 70k + 60k + 5k: 4 goes, then 65k fit.
  const std::vector<byte_meter::sample> grown = {{3, 1u << 30}, {4, 70000}, {5, 60000}, {6, 5000}};
  EXPECT_TRUE(m.check(grown, true).empty());
  v = m.check(grown, true);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].fd, 4);
  // Only stuck connections count: one whose whole messages are being taken neither counts nor is struck.
  m.took(5, 1000);
  EXPECT_TRUE(m.check({{5, 200000 + h}, {6, 5000}}, false).empty());
  m.took(5, 1000);
  EXPECT_TRUE(m.check({{5, 200000 + h}, {6, 5000}}, false).empty());
  EXPECT_TRUE(m.check({{5, 200000 + h}, {6, 5000}}, false).empty());  // 5 now stuck: first strike for the total
  v = m.check({{5, 200000 + h}, {6, 5000}}, false);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].fd, 5);
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

// A Noise handshake costs the listener a key pair, two X25519 and a signature per message 1, its sender 32 random
// bytes: a peer must not start one after another on one TCP connection.
TEST(zmq, a_failed_handshake_closes_its_tcp_connection) {
  transport_config cfg;
  cfg.settings = {{"handshake_timeout_ms", "60000"}};  // not the unfinished-handshake timeout: the failure
  test::node_side server(true, cfg);
  raw_zmtp peer(test::port_of(server.addr), "DEALER");
  timeval rt{1, 0};
  ::setsockopt(peer.fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
  bytes e(32);
  for (auto& b : e) b = static_cast<std::uint8_t>(std::rand());
  const bytes handshake_kind{1};
  ASSERT_TRUE(peer.short_part(handshake_kind, true) && peer.short_part(e, false));  // Noise XX message 1
  EXPECT_GT(peer.drain(), 32) << "no message 2 came back: not a handshake the listener took up";
  // Message 1 again while the listener waits for message 3: the handshake fails and the connection ends.
  peer.short_part(handshake_kind, true);
  peer.short_part(e, false);
  long got = 0;
  for (int i = 0; i < 4 && got >= 0; ++i) got = peer.drain();
  EXPECT_EQ(got, -1) << "the connection stayed open after a failed handshake";
}

struct readable_flag : connection_observer {
  std::atomic<bool> readable{false};
  void on_readable() override { readable = true; }
  void on_writable() override {}
  void on_closed(const error&) override {}
};

// A listener stops reading all its peers while one peer's inbound queue is full; libzmq then keeps up to hwm
// whole messages of every connection (here up to 2000 x 60 kB). All connections together may hold max_held_bytes.
TEST(zmq, a_paused_listener_cuts_the_connection_that_holds_most_past_max_held_bytes) {
  transport_config cfg;
  cfg.settings = {{"max_frame_bytes", "65536"}, {"queue_frames", "1"}, {"hwm", "2000"},
                  {"max_held_bytes", "8388608"}, {"handshake_timeout_ms", "60000"}};
  test::node_side server(true, cfg);
  test::node_side client(false);
  auto c = client.t->dial(server.addr + "/p2p/" + server.key.id().str());
  ASSERT_TRUE(c) << c.err().what();
  ASSERT_TRUE((*c)->send(bytes(100, 1)));
  ASSERT_TRUE((*c)->send(bytes(100, 2)));
  ASSERT_TRUE(test::eventually([&] { return server.acc->count() == 1; }, 5s));
  auto in = server.acc->first();
  auto flag = std::make_shared<readable_flag>();
  in->set_observer(flag);
  ASSERT_TRUE(test::eventually([&] { return flag->readable.load(); }, 5s));  // its queue (1 frame) is full
  // Whole messages now stay in libzmq: before max_held_bytes, 2000 of them (120 MB) were allowed.
  raw_zmtp hostile(test::port_of(server.addr), "DEALER");
  std::printf("cut off after %zu bytes of whole messages\n", endless_message(hostile, false));
  // The authenticated peer held little and stays; reading its frames lets the listener go on.
  std::optional<bytes> got;
  ASSERT_TRUE(test::eventually([&] { return (got = in->try_receive()).has_value(); }, 5s));
  EXPECT_EQ(got->at(0), 1);
  ASSERT_TRUE(test::eventually([&] { return (got = in->try_receive()).has_value(); }, 5s));
  EXPECT_EQ(got->at(0), 2);
  EXPECT_TRUE(in->is_open());
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

// max_held_bytes below what one connection in the middle of a frame holds would cut well-behaved peers.
TEST(zmq, refuses_max_held_bytes_below_one_connections_reading_allowance) {
  auto load = [](std::map<std::string, std::string> settings) {
    transport_config cfg;
    cfg.plugin = cfg.name = "zmq";
    cfg.settings = std::move(settings);
    return plugin_loader({test::plugin_build_dir()}).load_transport(cfg);
  };
  auto t = load({{"max_held_bytes", "8388608"}});  // default max_frame_bytes 4 MiB: needs about 12.4 MiB
  ASSERT_FALSE(t);
  EXPECT_EQ(t.err().code(), errc::config_bad_value);
  EXPECT_NE(t.err().message().find("max_held_bytes (8388608) must be at least 12585184"), std::string::npos)
    << t.err().message();
  EXPECT_TRUE(load({{"max_held_bytes", "8388608"}, {"max_frame_bytes", "1048576"}}));
  t = load({{"max_held_bytes", "0"}});
  ASSERT_FALSE(t);
  EXPECT_NE(t.err().message().find("max_held_bytes"), std::string::npos) << t.err().message();
}
