// relay_server circuits over 127.0.0.1: splicing between two relay_clients,
// backpressure, data and duration limits, disconnects.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "framework/p2p/raw_peer.hpp"
#include "framework/p2p/relay_server_fixture.hpp"
#include "p2p/multiaddr_bytes.hpp"
#include "p2p/signed_envelope.hpp"

using namespace aqua;
using namespace aqua::p2p;
using namespace aqua::test;
using namespace std::chrono_literals;

namespace {

// A circuit b -> relay -> a between raw peers: a reserves, b CONNECTs, a accepts the STOP. Its streams (b's HOP
// stream, a's STOP stream) and the size of the STOP message a got; nullopt if a step failed.
struct raw_circuit {
  std::uint32_t hop = 0, stop = 0;
  std::size_t stop_msg = 0;
};
std::optional<raw_circuit> open_raw_circuit(test::raw_peer& a, test::raw_peer& b) {
  if (!a.wait_established() || !b.wait_established()) return std::nullopt;
  auto reserved = a.hop(relay::hop_reserve());
  if (!reserved || reserved->status != relay::status::ok) return std::nullopt;
  auto hop = b.open(std::string(relay::hop_protocol_id));
  if (!hop) return std::nullopt;
  b.write(*hop, relay::frame(relay::encode(relay::hop_connect(a.id()))).value());
  const auto inbound = a.wait_inbound();
  if (!inbound) return std::nullopt;
  auto connect_msg = a.wait_stream(*inbound, [](const auto& l) { return !l.data.empty(); });
  if (!connect_msg) return std::nullopt;
  a.write(*inbound, relay::frame(relay::encode(relay::stop_status(relay::status::ok))).value());
  if (!b.wait_stream(*hop, [](const auto& l) { return !l.data.empty(); })) return std::nullopt;
  return raw_circuit{*hop, *inbound, connect_msg->data.size()};
}

TEST(RelayServer, SplicesACircuitBetweenTwoRelayClientsBothWays) {
  server s;
  client a(1, {s.addr()});
  a.echo = true;
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }));
  EXPECT_EQ(a.rc->status().at(0).observed_addr.rfind("/ip4/127.0.0.1/tcp/", 0), 0u);
  auto b = std::make_unique<client>(2, std::vector<std::string>{});
  auto ch = b->rc->dial(a.addrs[0]);
  ASSERT_TRUE(ch);
  ASSERT_TRUE(b->rc->send(*ch, txt("hello over an aqua relay")));
  ASSERT_TRUE(b->wait([&] { return b->frames.size() == 1; }));
  EXPECT_EQ(b->frames[0], txt("hello over an aqua relay"));
  ASSERT_TRUE(a.wait([&] { return a.frames.size() == 1; }));
  EXPECT_EQ(s.rs->stats().hop.circuits, 1u);
  // The channel closes; the relayed connection (the circuit) stays until a side goes away.
  ASSERT_TRUE(b->rc->close(*ch));
  ASSERT_TRUE(b->wait([&] { return !b->closed.empty(); }));
  EXPECT_EQ(s.rs->stats().hop.circuits, 1u);
  b.reset();
  EXPECT_TRUE(s.eventually([](const relay_server_stats& x) { return x.hop.circuits == 0 && x.hop.circuits_closed == 1; }));
  auto st = s.rs->stats();
  EXPECT_EQ(st.hop.connects_granted, 1u);
  EXPECT_EQ(st.hop.reservations, 1u);  // a is still there
  EXPECT_GT(st.bytes_relayed, 48u);
  EXPECT_EQ(st.circuits_data_limited + st.circuits_duration_limited + st.stop_failed, 0u);
}

TEST(RelayServer, CarriesMegabytesWithBackpressureWhenUnlimited) {
  relay_server_config cfg;
  cfg.hop.limited = false;
  server s(cfg);
  client a(1, {s.addr()});
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }));
  client b(2, {});
  auto ch = b.rc->dial(a.addrs[0]);
  ASSERT_TRUE(ch);
  constexpr std::size_t frame = 256 * 1024, count = 24;  // 6 MiB, far beyond every window and buffer
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t sent = 0;
  while (sent < count && std::chrono::steady_clock::now() - t0 < 20s) {
    auto r = b.rc->send(*ch, bytes(frame, static_cast<std::uint8_t>(sent)));
    if (r) ++sent;
    else std::this_thread::sleep_for(2ms);  // would_block: the channel buffer is full
  }
  ASSERT_EQ(sent, count);
  ASSERT_TRUE(a.wait([&] { return a.frames.size() == count; }, 20s));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(a.frames[i], bytes(frame, static_cast<std::uint8_t>(i)));
  std::printf("relayed %zu MiB in %.3f s (%.1f MiB/s)\n", frame * count >> 20, secs, (frame * count >> 20) / secs);
  EXPECT_GE(s.rs->stats().bytes_relayed, frame * count);
}

// The destination never grants window credit: the relay holds at most one
// window plus its yamux queue, and the source's writes stall; once the
// destination reads, everything arrives.
TEST(RelayServer, SlowDestinationHoldsBackTheSource) {
  relay_server_config cfg;
  cfg.hop.limited = false;
  server s(cfg);
  tcp_host_config slow;
  slow.p2p.protocols = {std::string(relay::stop_protocol_id)};
  slow.p2p.yamux.window_update_on_delivery = false;
  test::raw_peer a(1, s.port(), s.key.id(), slow), b(2, s.port(), s.key.id());
  const auto circuit = open_raw_circuit(a, b);
  ASSERT_TRUE(circuit);
  const std::uint32_t stop = circuit->stop;
  const std::size_t stop_msg = circuit->stop_msg;
  // Push until the source's stream takes nothing for 300 ms.
  const bytes chunk(64 * 1024, 0x5a);
  std::size_t pushed = 0;
  auto idle_since = std::chrono::steady_clock::now();
  const auto t0 = idle_since;
  while (std::chrono::steady_clock::now() - idle_since < 300ms && std::chrono::steady_clock::now() - t0 < 10s) {
    const std::size_t n = b.write_some(circuit->hop, chunk);
    pushed += n;
    if (n > 0) idle_since = std::chrono::steady_clock::now();
    else std::this_thread::sleep_for(5ms);
  }
  const auto st = s.rs->stats();
  const std::size_t stop_bytes = a.wait_stream(stop, [](const auto&) { return true; })->data.size();
  std::printf("source pushed %zu KiB; relay passed on %llu KiB; destination holds %zu KiB\n", pushed >> 10,
              static_cast<unsigned long long>(st.bytes_relayed >> 10), stop_bytes >> 10);
  EXPECT_LE(st.bytes_relayed, 512u * 1024);          // one window at a + the relay's yamux queue toward a
  EXPECT_LE(stop_bytes, 256u * 1024 + 64);           // a's window (+ the STOP message)
  EXPECT_GE(pushed, st.bytes_relayed + 512u * 1024);  // the rest waits at b: its queue and its window at the relay
  std::size_t credited = 0;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (credited < stop_msg + pushed && std::chrono::steady_clock::now() < until) {
    auto l = a.wait_stream(stop, [&](const auto& x) { return x.data.size() > credited; }, 200ms);
    if (!l) continue;
    a.consume(stop, l->data.size() - credited);
    credited = l->data.size();
  }
  EXPECT_EQ(credited, stop_msg + pushed);
}

// Raw peers: an aqua relay_client keeps to the limit the relay announces (below), so it cannot test the relay's own
// enforcement. (With relay_clients this test raced since 2026-11-27: the dialler refused the frame whenever the
// CONNECT status, with its limit, came before the send.)
TEST(RelayServer, DataLimitResetsTheCircuit) {
  relay_server_config cfg;
  cfg.hop.limit_data = 64 * 1024;
  server s(cfg);
  tcp_host_config stop_side;
  stop_side.p2p.protocols = {std::string(relay::stop_protocol_id)};
  test::raw_peer a(1, s.port(), s.key.id(), stop_side), b(2, s.port(), s.key.id());
  const auto circuit = open_raw_circuit(a, b);
  ASSERT_TRUE(circuit);
  b.write(circuit->hop, bytes(100 * 1024, 1));  // over the 64 KiB a direction
  EXPECT_TRUE(s.eventually([](const relay_server_stats& x) { return x.circuits_data_limited == 1 && x.hop.circuits == 0; }));
  EXPECT_TRUE(b.wait_stream(circuit->hop, [](const auto& l) { return l.reset || l.closed; }));
}

// The dialler learns the limit from the CONNECT status and refuses a frame that would cross it, instead of
// writing it into a circuit the relay would reset (the frame would be lost): the circuit stays up.
TEST(RelayServer, TheDiallerKeepsToTheAnnouncedDataLimit) {
  relay_server_config cfg;
  cfg.hop.limit_data = 64 * 1024;
  server s(cfg);
  client a(1, {s.addr()});
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }));
  client b(2, {});
  auto ch = b.rc->dial(a.addrs[0]);
  ASSERT_TRUE(ch);
  ASSERT_TRUE(b.rc->send(*ch, txt("first")));
  ASSERT_TRUE(a.wait([&] { return a.frames.size() == 1; }));  // the circuit is up: b has the CONNECT status
  auto big = b.rc->send(*ch, bytes(100 * 1024, 1));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.err().code(), errc::frame_too_large);
  EXPECT_NE(big.err().message().find("limits this circuit to 65536 bytes"), std::string::npos) << big.err().message();
  ASSERT_TRUE(b.rc->send(*ch, txt("second")));
  EXPECT_TRUE(a.wait([&] { return a.frames.size() == 2; }));
  EXPECT_EQ(s.rs->stats().circuits_data_limited, 0u);
}

TEST(RelayServer, DurationLimitResetsTheCircuit) {
  relay_server_config cfg;
  cfg.hop.limit_duration_s = 1;
  server s(cfg);
  client a(1, {s.addr()});
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }));
  client b(2, {});
  const auto t0 = std::chrono::steady_clock::now();
  auto ch = b.rc->dial(a.addrs[0]);
  ASSERT_TRUE(ch);
  ASSERT_TRUE(b.rc->send(*ch, txt("x")));
  ASSERT_TRUE(a.wait([&] { return a.frames.size() == 1; }));
  ASSERT_TRUE(b.wait([&] { return !b.closed.empty(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);
  EXPECT_TRUE(s.eventually([](const relay_server_stats& x) { return x.circuits_duration_limited == 1 && x.hop.circuits == 0; }));
}

TEST(RelayServer, DestinationDisconnectEndsCircuitAndReservation) {
  server s;
  auto a = std::make_unique<client>(1, std::vector<std::string>{s.addr()});
  ASSERT_TRUE(a->wait([&] { return !a->addrs.empty(); }));
  client b(2, {});
  auto ch = b.rc->dial(a->addrs[0]);
  ASSERT_TRUE(ch);
  ASSERT_TRUE(b.rc->send(*ch, txt("x")));
  ASSERT_TRUE(a->wait([&] { return a->frames.size() == 1; }));
  a.reset();
  ASSERT_TRUE(b.wait([&] { return !b.closed.empty(); }));
  EXPECT_TRUE(s.eventually([](const relay_server_stats& x) { return x.hop.circuits == 0 && x.hop.reservations == 0; }));
  auto ch2 = b.rc->dial(s.addr() + "/p2p-circuit/p2p/" + keypair::from_seed(bytes(32, 1)).value().id().str());
  ASSERT_TRUE(ch2);
  ASSERT_TRUE(b.wait([&] { return b.closed.size() == 2; }));
  EXPECT_NE(b.closed[1].second.message().find("NO_RESERVATION"), std::string::npos) << b.closed[1].second.what();
}

} // namespace
