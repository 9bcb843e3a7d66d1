#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>

#include "p2p/multiaddr_bytes.hpp"
#include "p2p/tcp_host.hpp"

using namespace aqua;
using namespace aqua::p2p;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view echo_proto = "/test/echo/1.0.0";
constexpr std::string_view carrier_proto = "/test/carrier/1.0.0";

keypair identity(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value(); }

// A host whose callbacks record what happens; echoes what arrives on
// inbound echo_proto streams; adopts inbound carrier_proto streams as nested
// (listener) connections.
struct node {
  keypair key;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<conn_id, peer_id>> established;
  std::vector<std::pair<conn_id, p2p_event>> events;
  std::vector<std::pair<conn_id, error>> closed;
  std::vector<conn_id> adopted;
  std::set<std::pair<conn_id, std::uint32_t>> echo_streams;
  std::optional<peer_id> carrier_expected;  // set: our carrier streams become nested dialer connections
  std::unique_ptr<tcp_host> host;

  explicit node(std::uint8_t seed, std::int64_t ping_ms = 0) : key(identity(seed)) {
    tcp_host_config cfg;
    cfg.p2p.protocols = {std::string(echo_proto), std::string(carrier_proto)};
    cfg.ping_interval_ms = ping_ms;
    tcp_host_callbacks cb;
    cb.on_established = [this](conn_id c, const peer_id& p, bool) {
      std::lock_guard lk(mu);
      established.emplace_back(c, p);
      cv.notify_all();
    };
    cb.on_event = [this](conn_id c, p2p_event& ev) {
      if (ev.kind == p2p_event_kind::stream_opened && ev.inbound && ev.protocol == carrier_proto) {
        auto child = host->adopt_stream(c, ev.stream_id, false, {});
        std::lock_guard lk(mu);
        if (child) adopted.push_back(*child);
      }
      if (ev.kind == p2p_event_kind::stream_opened && !ev.inbound && ev.protocol == carrier_proto) {
        dial_options opts;
        opts.expected = carrier_expected;
        auto child = host->adopt_stream(c, ev.stream_id, true, opts);
        std::lock_guard lk(mu);
        if (child) adopted.push_back(*child);
      }
      if (ev.kind == p2p_event_kind::stream_opened && ev.inbound && ev.protocol == echo_proto)
        echo_streams.emplace(c, ev.stream_id);
      if (ev.kind == p2p_event_kind::stream_data && echo_streams.count({c, ev.stream_id})) {
        EXPECT_EQ(host->write(c, ev.stream_id, ev.data).value(), ev.data.size());
      }
      if (ev.kind == p2p_event_kind::stream_closed && echo_streams.count({c, ev.stream_id}))
        (void) host->close_stream(c, ev.stream_id);
      std::lock_guard lk(mu);
      events.emplace_back(c, ev);
      cv.notify_all();
    };
    cb.on_closed = [this](conn_id c, const error& e) {
      std::lock_guard lk(mu);
      closed.emplace_back(c, e);
      cv.notify_all();
    };
    host = std::make_unique<tcp_host>(key, system_env(), cfg, cb);
    EXPECT_TRUE(host->start());
  }
  template <class P>
  bool wait(P pred, std::chrono::milliseconds d = 5000ms) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, d, [&] { return pred(); });
  }
  std::vector<p2p_event> of(conn_id c, p2p_event_kind k) {
    std::vector<p2p_event> out;
    for (auto& [id, e] : events) {
      if (id == c && e.kind == k) out.push_back(e);
    }
    return out;
  }
  bytes data_on(conn_id c, std::uint32_t s) {
    bytes out;
    for (auto& [id, e] : events) {
      if (id == c && e.kind == p2p_event_kind::stream_data && e.stream_id == s)
        out.insert(out.end(), e.data.begin(), e.data.end());
    }
    return out;
  }
};

TEST(TcpHost, DialStreamPingIdentifyOverLoopback) {
  node a(1), b(2);
  auto port = a.host->call([&] { return a.host->listen("127.0.0.1", 0); });
  ASSERT_TRUE(port);
  dial_options opts;
  opts.expected = a.key.id();
  opts.identify = true;
  auto c = b.host->call([&] { return b.host->dial("127.0.0.1", *port, opts); });
  ASSERT_TRUE(c);
  ASSERT_TRUE(b.wait([&] { return !b.established.empty(); }));
  EXPECT_EQ(b.established[0].second, a.key.id());
  ASSERT_TRUE(a.wait([&] { return !a.established.empty(); }));
  EXPECT_EQ(a.established[0].second, b.key.id());
  // Identify: a tells b the address it sees b at.
  ASSERT_TRUE(b.wait([&] { return !b.of(*c, p2p_event_kind::identified).empty(); }));
  auto id = *b.of(*c, p2p_event_kind::identified)[0].identify;
  auto observed = multiaddr_to_text(id.observed_addr);
  ASSERT_TRUE(observed);
  EXPECT_EQ(observed->rfind("/ip4/127.0.0.1/tcp/", 0), 0u);
  ASSERT_EQ(id.listen_addrs.size(), 1u);
  EXPECT_EQ(multiaddr_to_text(id.listen_addrs[0]).value(), "/ip4/127.0.0.1/tcp/" + std::to_string(*port));
  // A stream with 1 MiB through the echo.
  bytes big(1 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  auto s = b.host->call([&] { return b.host->open_stream(*c, {std::string(echo_proto)}); });
  ASSERT_TRUE(s);
  std::size_t sent = 0;
  for (int i = 0; i < 2000 && sent < big.size(); ++i) {
    auto n = b.host->call([&] { return b.host->write(*c, *s, bytes_view(big).subspan(sent)); });
    ASSERT_TRUE(n);
    sent += *n;
    if (*n == 0) std::this_thread::sleep_for(2ms);
  }
  ASSERT_EQ(sent, big.size());
  ASSERT_TRUE(b.host->call([&] { return b.host->close_stream(*c, *s); }));
  ASSERT_TRUE(b.wait([&] { return !b.of(*c, p2p_event_kind::stream_closed).empty(); }));
  EXPECT_EQ(b.data_on(*c, *s), big);
  // Ping.
  ASSERT_TRUE(b.host->call([&] { return b.host->connection(*c)->ping(); }));
  b.host->post([&] { b.host->flush(*c); });
  ASSERT_TRUE(b.wait([&] { return !b.of(*c, p2p_event_kind::pong).empty(); }));
  EXPECT_GE(b.of(*c, p2p_event_kind::pong)[0].rtt_ms, 0);
  // Close: both sides see it.
  b.host->post([&] { b.host->close(*c, error{errc::connection_closed, "test"}); });
  ASSERT_TRUE(a.wait([&] { return !a.closed.empty(); }));
  ASSERT_TRUE(b.wait([&] { return !b.closed.empty(); }));
}

TEST(TcpHost, WrongPeerAndRefusedDial) {
  node a(1), b(2);
  auto port = a.host->call([&] { return a.host->listen("127.0.0.1", 0); });
  ASSERT_TRUE(port);
  dial_options opts;
  opts.expected = identity(9).id();
  auto c = b.host->call([&] { return b.host->dial("127.0.0.1", *port, opts); });
  ASSERT_TRUE(c);
  ASSERT_TRUE(b.wait([&] { return !b.closed.empty(); }));
  EXPECT_EQ(b.closed[0].second.code(), errc::wrong_recipient);
  EXPECT_TRUE(b.established.empty());
  // Nothing listens on the port any more once a stops.
  a.host->stop();
  auto c2 = b.host->call([&] { return b.host->dial("127.0.0.1", *port, {}); });
  if (c2) {
    ASSERT_TRUE(b.wait([&] { return b.closed.size() == 2; }));
    EXPECT_EQ(b.closed[1].second.code(), errc::connection_refused);
  }
}

TEST(TcpHost, NestedConnectionOverAStream) {
  node a(1, 50), b(2, 50);  // keepalive pings every 50 ms run alongside
  auto port = a.host->call([&] { return a.host->listen("127.0.0.1", 0); });
  auto c = b.host->call([&] { return b.host->dial("127.0.0.1", *port, {}); });
  ASSERT_TRUE(c);
  ASSERT_TRUE(b.wait([&] { return !b.established.empty(); }));
  b.carrier_expected = a.key.id();
  auto s = b.host->call([&] { return b.host->open_stream(*c, {std::string(carrier_proto)}); });
  ASSERT_TRUE(s);
  ASSERT_TRUE(b.wait([&] { return b.established.size() == 2; }));
  ASSERT_EQ(b.adopted.size(), 1u);
  const conn_id inner = b.adopted[0];
  EXPECT_EQ(b.established[1].first, inner);
  EXPECT_EQ(b.host->call([&] { return b.host->parent_of(inner); }), std::optional<conn_id>(*c));
  auto es = b.host->call([&] { return b.host->open_stream(inner, {std::string(echo_proto)}); });
  ASSERT_TRUE(es);
  bytes payload(300000, 0x5a);
  std::size_t sent = 0;
  for (int i = 0; i < 2000 && sent < payload.size(); ++i) {
    auto n = b.host->call([&] { return b.host->write(inner, *es, bytes_view(payload).subspan(sent)); });
    ASSERT_TRUE(n);
    sent += *n;
    if (*n == 0) std::this_thread::sleep_for(2ms);
  }
  ASSERT_TRUE(b.host->call([&] { return b.host->close_stream(inner, *es); }));
  ASSERT_TRUE(b.wait([&] { return !b.of(inner, p2p_event_kind::stream_closed).empty(); }));
  EXPECT_EQ(b.data_on(inner, *es), payload);
  std::this_thread::sleep_for(150ms);  // a few keepalive rounds
  // Closing the outer connection closes the nested one on both sides.
  b.host->post([&] { b.host->close(*c, error{errc::connection_closed, "test"}); });
  ASSERT_TRUE(b.wait([&] { return b.closed.size() == 2; }));
  ASSERT_TRUE(a.wait([&] { return a.closed.size() == 2; }));
  EXPECT_GE(b.of(*c, p2p_event_kind::pong).size(), 1u);
}

} // namespace
