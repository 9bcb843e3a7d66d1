// relay_server's keepalive: connections that finished the handshake and then went silent (their peers' loops
// blocked: sockets open, nothing read or answered) give their slots back within ping_timeout_ms, while a quiet
// peer that answers pings keeps its connection.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "framework/p2p/loop_blocker.hpp"
#include "framework/p2p/raw_peer.hpp"
#include "framework/p2p/relay_server_fixture.hpp"

using namespace aqua;
using namespace aqua::p2p;
using namespace aqua::test;
using namespace std::chrono_literals;

TEST(relay_server_keepalive, a_relay_frees_the_slots_of_connections_that_went_silent) {
  relay_server_config cfg;
  cfg.max_connections_per_ip = 3;  // every peer here comes from 127.0.0.1
  cfg.ping_interval_ms = 200;
  cfg.ping_timeout_ms = 1000;
  server s(cfg);
  raw_peer quiet(1, s.port(), s.key.id());  // idle, but answers pings
  ASSERT_TRUE(quiet.wait_established());
  ASSERT_EQ(quiet.hop(relay::hop_reserve())->status, relay::status::ok);
  auto a = std::make_unique<raw_peer>(2, s.port(), s.key.id());
  auto b = std::make_unique<raw_peer>(3, s.port(), s.key.id());
  ASSERT_TRUE(a->wait_established());
  ASSERT_TRUE(b->wait_established());
  ASSERT_TRUE(s.eventually([](const relay_server_stats& st) { return st.connections == 3; }));
  // a and b go silent, holding the address's last two slots: a newcomer is refused at accept.
  loop_blocker block_a(a->host()), block_b(b->host());
  const auto silent_from = std::chrono::steady_clock::now();
  {
    raw_peer refused(4, s.port(), s.key.id());
    EXPECT_TRUE(refused.wait_gone());
  }
  // Within the timeout (and a round of checks) the relay closes both, and only them.
  ASSERT_TRUE(s.eventually([](const relay_server_stats& st) { return st.connections == 1; }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - silent_from, 2500ms);
  raw_peer newcomer(5, s.port(), s.key.id());
  ASSERT_TRUE(newcomer.wait_established());
  EXPECT_EQ(newcomer.hop(relay::hop_reserve())->status, relay::status::ok);
  // The quiet peer kept its connection and its reservation through all of it (10+ ping intervals).
  std::this_thread::sleep_for(1200ms);  // more than a timeout since
  EXPECT_EQ(s.rs->stats().connections, 2u);
  EXPECT_EQ(s.rs->stats().hop.reservations, 2u);
  block_a.release();
  block_b.release();
  EXPECT_TRUE(a->wait_gone());
  EXPECT_TRUE(b->wait_gone());
}
