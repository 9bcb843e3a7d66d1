// tcp_host's keepalive over 127.0.0.1: established connections are pinged every ping_interval_ms, and one from
// which nothing at all arrived for ping_timeout_ms is closed (errc::timeout). The silent peer is a real one
// whose loop is blocked after the handshake (loop_blocker.hpp): its socket stays open, it reads and answers nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "framework/p2p/loop_blocker.hpp"
#include "framework/p2p/raw_peer.hpp"
#include "p2p/tcp_host.hpp"
#include "support/eventually.hpp"

using namespace aqua;
using namespace aqua::p2p;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t ping_ms = 100;
constexpr std::int64_t timeout_ms = 400;

// A listening host that pings every 100 ms and gives a connection up after 400 ms of silence.
struct listener {
  keypair key = keypair::from_seed(bytes(32, 9)).value();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<error> closed;
  std::size_t pongs = 0;
  std::chrono::steady_clock::time_point closed_at;
  std::unique_ptr<tcp_host> host;
  std::uint16_t port = 0;

  listener() {
    tcp_host_config cfg;
    cfg.ping_interval_ms = ping_ms;
    cfg.ping_timeout_ms = timeout_ms;
    tcp_host_callbacks cb;
    cb.on_event = [this](conn_id, p2p_event& ev) {
      if (ev.kind != p2p_event_kind::pong || ev.rtt_ms < 0) return;
      std::lock_guard lk(mu);
      ++pongs;
    };
    cb.on_closed = [this](conn_id, const error& e) {
      std::lock_guard lk(mu);
      closed.push_back(e);
      closed_at = std::chrono::steady_clock::now();
      cv.notify_all();
    };
    host = std::make_unique<tcp_host>(key, system_env(), cfg, cb);
    EXPECT_TRUE(host->start());
    port = host->call([&] { return host->listen("127.0.0.1", 0); }).value();
  }
  std::size_t connections() {
    return host->call([&] { return host->connection_count(); });
  }
};

} // namespace

TEST(tcp_host_keepalive, a_peer_that_goes_silent_after_the_handshake_is_closed_within_the_ping_timeout) {
  listener l;
  test::raw_peer peer(1, l.port, l.key.id());
  ASSERT_TRUE(peer.wait_established());
  ASSERT_TRUE(test::eventually([&] { return l.connections() == 1; }));
  const auto silent_from = std::chrono::steady_clock::now();
  test::loop_blocker block(peer.host());  // from now on the peer reads and answers nothing
  {
    std::unique_lock lk(l.mu);
    ASSERT_TRUE(l.cv.wait_for(lk, 5s, [&] { return !l.closed.empty(); }));
    EXPECT_EQ(l.closed[0].code(), errc::timeout) << l.closed[0].what();
    EXPECT_NE(l.closed[0].message().find("no answer to ping for"), std::string::npos) << l.closed[0].what();
    const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(l.closed_at - silent_from);
    // The last byte came at most one ping interval before the block; the check runs at most one round late.
    EXPECT_GE(after.count(), timeout_ms - ping_ms - 20);
    EXPECT_LE(after.count(), timeout_ms + 1500);  // slack for a loaded machine
  }
  EXPECT_EQ(l.connections(), 0u);
  block.release();
  EXPECT_TRUE(peer.wait_gone());  // it reads the close once it runs again
}

TEST(tcp_host_keepalive, an_idle_peer_that_answers_pings_stays_connected) {
  listener l;
  test::raw_peer peer(1, l.port, l.key.id());  // sends nothing of its own: no pings, no streams
  ASSERT_TRUE(peer.wait_established());
  std::this_thread::sleep_for(std::chrono::milliseconds(4 * timeout_ms));
  EXPECT_EQ(l.connections(), 1u);
  std::lock_guard lk(l.mu);
  EXPECT_TRUE(l.closed.empty()) << l.closed[0].what();
  EXPECT_GE(l.pongs, 5u);  // it was pinged, and answered
}
