// relay_server over 127.0.0.1: reservations and their limits (raw HOP
// requests, raw_peer.hpp), circuits between two relay_clients, circuit
// limits and disconnects. Stream services: relay_server_services_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <thread>

#include "framework/p2p/raw_peer.hpp"
#include "p2p/multiaddr_bytes.hpp"
#include "p2p/relay_client.hpp"
#include "p2p/relay_server.hpp"
#include "p2p/signed_envelope.hpp"

using namespace aqua;
using namespace aqua::p2p;
using namespace std::chrono_literals;

namespace {

bytes txt(std::string_view s) { return bytes(s.begin(), s.end()); }

keypair relay_key() { return keypair::from_seed(bytes(32, 70)).value(); }

struct server {
  keypair key = relay_key();
  std::unique_ptr<relay_server> rs;
  explicit server(relay_server_config cfg = {}) {
    if (cfg.listen.empty()) cfg.listen = {"/ip4/127.0.0.1/tcp/0"};
    if (cfg.expire_interval_ms == relay_server_config{}.expire_interval_ms) cfg.expire_interval_ms = 50;
    rs = std::make_unique<relay_server>(key, system_env(), std::move(cfg));
    EXPECT_TRUE(rs->start());
  }
  std::string addr() { return rs->addresses().at(0); }
  std::uint16_t port() {
    const std::string a = addr();
    const auto at = a.find("/tcp/") + 5;
    return static_cast<std::uint16_t>(std::stoi(a.substr(at, a.find('/', at) - at)));
  }
  template <class P>
  bool eventually(P pred, std::chrono::milliseconds d = 5000ms) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      if (pred(rs->stats())) return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred(rs->stats());
  }
};

// A relay_client recording its channels' events; echoes frames when asked.
struct client {
  keypair key;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> addrs;
  std::vector<bytes> frames;
  std::size_t frame_bytes = 0;
  std::vector<std::pair<channel_id, error>> closed;
  std::vector<channel_id> opened;
  bool echo = false;
  std::unique_ptr<relay_client> rc;

  client(std::uint8_t seed, std::vector<std::string> relays) : key(keypair::from_seed(bytes(32, seed)).value()) {
    relay_client_config cfg;
    cfg.relays = std::move(relays);
    cfg.require_voucher = true;
    relay_client_callbacks cb;
    cb.on_addresses = [this](const std::vector<std::string>& a) { set([&] { addrs = a; }); };
    cb.on_channel_open = [this](channel_id ch, const peer_id&, bool) { set([&] { opened.push_back(ch); }); };
    cb.on_frame = [this](channel_id ch, bytes f) {
      bytes copy = echo ? f : bytes{};
      set([&] {  // recorded before the echo leaves: the peer may check our frames once it has the echo
        frame_bytes += f.size();
        frames.push_back(std::move(f));
      });
      if (echo) (void) rc->send(ch, copy);
    };
    cb.on_remote_closed = [this](channel_id ch) {
      if (echo) (void) rc->close(ch);
    };
    cb.on_channel_closed = [this](channel_id ch, const error& e) { set([&] { closed.emplace_back(ch, e); }); };
    rc = std::make_unique<relay_client>(key, system_env(), cfg, cb);
    EXPECT_TRUE(rc->start());
  }
  template <class F>
  void set(F f) {
    std::lock_guard lk(mu);
    f();
    cv.notify_all();
  }
  template <class P>
  bool wait(P p, std::chrono::milliseconds d = 5000ms) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, d, [&] { return p(); });
  }
};

TEST(RelayServer, GrantsAReservationWithVoucherAddressesAndLimit) {
  server s;
  test::raw_peer a(1, s.port(), s.key.id());
  ASSERT_TRUE(a.wait_established());
  auto m = a.hop(relay::hop_reserve());
  ASSERT_TRUE(m) << m.err().what();
  EXPECT_EQ(m->type, relay::hop_message::kind::status);
  ASSERT_EQ(m->status, relay::status::ok);
  ASSERT_TRUE(m->reservation);
  const auto now_s = static_cast<std::uint64_t>(system_env()->now_unix_ms() / 1000);
  EXPECT_NEAR(static_cast<double>(m->reservation->expire), static_cast<double>(now_s + 3600), 5.0);
  ASSERT_EQ(m->reservation->addrs.size(), 1u);
  EXPECT_EQ(multiaddr_to_text(m->reservation->addrs[0]).value(), s.addr());
  auto v = open_voucher(m->reservation->voucher, s.key.id(), system_env()->now_unix_ms());
  ASSERT_TRUE(v) << v.err().what();
  EXPECT_EQ(v->peer, a.id());
  EXPECT_EQ(v->expiration, m->reservation->expire);
  ASSERT_TRUE(m->limit);
  EXPECT_EQ(m->limit->duration, 120u);
  EXPECT_EQ(m->limit->data, 131072u);
  // Identify tells the peer where it connects from, and our announced address.
  auto id = a.identify();
  ASSERT_TRUE(id);
  EXPECT_EQ(multiaddr_to_text(id->observed_addr).value().rfind("/ip4/127.0.0.1/tcp/", 0), 0u);
  ASSERT_EQ(id->listen_addrs.size(), 1u);
  EXPECT_EQ(multiaddr_to_text(id->listen_addrs[0]).value() + "/p2p/" + s.key.id().str(), s.addr());
  EXPECT_EQ(s.rs->stats().hop.reservations, 1u);
}

TEST(RelayServer, RefreshKeepsOneReservationAndDisconnectDropsIt) {
  server s;
  auto a = std::make_unique<test::raw_peer>(1, s.port(), s.key.id());
  ASSERT_TRUE(a->wait_established());
  ASSERT_EQ(a->hop(relay::hop_reserve())->status, relay::status::ok);
  ASSERT_EQ(a->hop(relay::hop_reserve())->status, relay::status::ok);
  auto st = s.rs->stats();
  EXPECT_EQ(st.hop.reservations, 1u);
  EXPECT_EQ(st.hop.reservations_refreshed, 1u);
  a->close();
  EXPECT_TRUE(s.eventually([](const relay_server_stats& x) { return x.hop.reservations == 0; }));
  EXPECT_EQ(s.rs->stats().hop.reservations_dropped, 1u);
}

TEST(RelayServer, ReservationExpiresAndThenConnectGetsNoReservation) {
  relay_server_config cfg;
  cfg.hop.reservation_ttl_ms = 300;
  server s(cfg);
  test::raw_peer a(1, s.port(), s.key.id());
  test::raw_peer b(2, s.port(), s.key.id());
  ASSERT_TRUE(a.wait_established() && b.wait_established());
  ASSERT_EQ(a.hop(relay::hop_reserve())->status, relay::status::ok);
  EXPECT_TRUE(s.eventually([](const relay_server_stats& x) { return x.hop.reservations_expired == 1; }));
  EXPECT_EQ(s.rs->stats().hop.reservations, 0u);
  auto m = b.hop(relay::hop_connect(a.id()));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, relay::status::no_reservation);
}

TEST(RelayServer, RefusesConnectWithoutReservation) {
  server s;
  test::raw_peer b(2, s.port(), s.key.id());
  ASSERT_TRUE(b.wait_established());
  auto m = b.hop(relay::hop_connect(keypair::from_seed(bytes(32, 9)).value().id()));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, relay::status::no_reservation);
  EXPECT_EQ(s.rs->stats().hop_refused, 1u);
  EXPECT_EQ(s.rs->stats().hop.connects_refused, 1u);
}

TEST(RelayServer, ConnectFailsWhenTheDestinationRefusesStop) {
  server s;
  test::raw_peer a(1, s.port(), s.key.id()), b(2, s.port(), s.key.id());  // raw peers do not speak STOP
  ASSERT_TRUE(a.wait_established() && b.wait_established());
  ASSERT_EQ(a.hop(relay::hop_reserve())->status, relay::status::ok);
  auto m = b.hop(relay::hop_connect(a.id()));
  ASSERT_TRUE(m) << m.err().what();
  EXPECT_EQ(m->status, relay::status::connection_failed);
  auto st = s.rs->stats();
  EXPECT_EQ(st.stop_failed, 1u);
  EXPECT_EQ(st.hop.circuits, 0u);
  EXPECT_EQ(st.hop.circuits_closed, 1u);
}

TEST(RelayServer, AnswersMalformedAndUnexpectedMessages) {
  server s;
  test::raw_peer b(2, s.port(), s.key.id());
  ASSERT_TRUE(b.wait_established());
  EXPECT_EQ(b.hop(relay::hop_status(relay::status::ok))->status, relay::status::unexpected_message);
  relay::hop_message no_peer;
  no_peer.type = relay::hop_message::kind::connect;
  EXPECT_EQ(b.hop(no_peer)->status, relay::status::malformed_message);
  auto st = b.open(std::string(relay::hop_protocol_id));
  ASSERT_TRUE(st);
  b.write(*st, bytes{0x02, 0x08, 0x07});  // type 7: not a HopMessage type
  auto log = b.wait_stream(*st, [](const test::raw_peer::stream_log& l) { return l.closed; });
  ASSERT_TRUE(log);
  relay::delimited_reader r;
  r.feed(log->data);
  EXPECT_EQ(relay::decode_hop(r.next().value().value())->status, relay::status::malformed_message);
  EXPECT_EQ(s.rs->stats().hop_refused, 3u);
}

TEST(RelayServer, EnforcesPerIpAndTotalReservationLimits) {
  {
    relay_server_config cfg;
    cfg.hop.max_reservations_per_ip = 1;
    server s(cfg);
    test::raw_peer a(1, s.port(), s.key.id()), b(2, s.port(), s.key.id());
    ASSERT_TRUE(a.wait_established() && b.wait_established());
    EXPECT_EQ(a.hop(relay::hop_reserve())->status, relay::status::ok);
    EXPECT_EQ(b.hop(relay::hop_reserve())->status, relay::status::reservation_refused);
    EXPECT_EQ(a.hop(relay::hop_reserve())->status, relay::status::ok);  // a refresh is not a new one
  }
  relay_server_config cfg;
  cfg.hop.max_reservations = 2;
  server s(cfg);
  test::raw_peer a(1, s.port(), s.key.id()), b(2, s.port(), s.key.id()), c(3, s.port(), s.key.id());
  ASSERT_TRUE(a.wait_established() && b.wait_established() && c.wait_established());
  EXPECT_EQ(a.hop(relay::hop_reserve())->status, relay::status::ok);
  EXPECT_EQ(b.hop(relay::hop_reserve())->status, relay::status::ok);
  EXPECT_EQ(c.hop(relay::hop_reserve())->status, relay::status::reservation_refused);
  EXPECT_EQ(s.rs->stats().hop.reservations_refused, 1u);
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
  ASSERT_TRUE(a.wait_established() && b.wait_established());
  ASSERT_EQ(a.hop(relay::hop_reserve())->status, relay::status::ok);
  auto hop = b.open(std::string(relay::hop_protocol_id));
  ASSERT_TRUE(hop);
  b.write(*hop, relay::frame(relay::encode(relay::hop_connect(a.id()))).value());
  const auto inbound = a.wait_inbound();
  ASSERT_TRUE(inbound);
  const std::uint32_t stop = *inbound;
  auto connect_msg = a.wait_stream(stop, [](const auto& l) { return !l.data.empty(); });
  ASSERT_TRUE(connect_msg);
  const std::size_t stop_msg = connect_msg->data.size();
  a.write(stop, relay::frame(relay::encode(relay::stop_status(relay::status::ok))).value());
  ASSERT_TRUE(b.wait_stream(*hop, [](const auto& l) { return !l.data.empty(); }));
  // Push until the source's stream takes nothing for 300 ms.
  const bytes chunk(64 * 1024, 0x5a);
  std::size_t pushed = 0;
  auto idle_since = std::chrono::steady_clock::now();
  const auto t0 = idle_since;
  while (std::chrono::steady_clock::now() - idle_since < 300ms && std::chrono::steady_clock::now() - t0 < 10s) {
    const std::size_t n = b.write_some(*hop, chunk);
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

TEST(RelayServer, DataLimitResetsTheCircuit) {
  relay_server_config cfg;
  cfg.hop.limit_data = 64 * 1024;
  server s(cfg);
  client a(1, {s.addr()});
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }));
  client b(2, {});
  auto ch = b.rc->dial(a.addrs[0]);
  ASSERT_TRUE(ch);
  ASSERT_TRUE(b.rc->send(*ch, bytes(100 * 1024, 1)));
  ASSERT_TRUE(b.wait([&] { return !b.closed.empty(); }));
  EXPECT_TRUE(a.frames.empty());
  EXPECT_TRUE(s.eventually([](const relay_server_stats& x) { return x.circuits_data_limited == 1 && x.hop.circuits == 0; }));
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

TEST(RelayServer, AnnouncesInterfaceAddressesForAnyAndConfiguredOnesInstead) {
  relay_server_config cfg;
  cfg.listen = {"/ip4/0.0.0.0/tcp/0"};
  server any(cfg);
  const auto all = any.rs->addresses();
  auto local = std::find_if(all.begin(), all.end(), [](const std::string& a) { return a.rfind("/ip4/127.0.0.1/", 0) == 0; });
  ASSERT_NE(local, all.end());
  for (const auto& a : all) EXPECT_EQ(a.find("0.0.0.0"), std::string::npos) << a;
  const auto at = local->find("/tcp/") + 5;
  test::raw_peer a(1, static_cast<std::uint16_t>(std::stoi(local->substr(at, local->find('/', at) - at))), any.key.id());
  ASSERT_TRUE(a.wait_established());
  auto m = a.hop(relay::hop_reserve());
  ASSERT_TRUE(m && m->reservation);
  std::vector<std::string> in_reservation;
  for (const auto& b : m->reservation->addrs) in_reservation.push_back(multiaddr_to_text(b).value());
  EXPECT_EQ(in_reservation, std::vector<std::string>(all.begin(), all.begin() + std::min<std::size_t>(all.size(), 8)));
  cfg.listen = {"/ip4/127.0.0.1/tcp/0"};
  cfg.announce = {"/ip4/203.0.113.7/tcp/4001"};
  server s(cfg);
  EXPECT_EQ(s.rs->addresses(), std::vector<std::string>{"/ip4/203.0.113.7/tcp/4001/p2p/" + s.key.id().str()});
}

TEST(RelayServer, StartFailsWithAddressInUseAndBadAddresses) {
  server s;
  relay_server_config cfg;
  cfg.listen = {"/ip4/127.0.0.1/tcp/" + std::to_string(s.port())};
  relay_server other(s.key, system_env(), cfg);
  auto r = other.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::address_in_use);
  EXPECT_NE(r.err().message().find("relay: listen on /ip4/127.0.0.1/tcp/"), std::string::npos) << r.err().what();
  cfg.listen = {"/ip6/::1/tcp/1"};
  EXPECT_EQ(relay_server(s.key, system_env(), cfg).start().err().code(), errc::bad_address);
  cfg.listen = {};
  EXPECT_EQ(relay_server(s.key, system_env(), cfg).start().err().code(), errc::invalid_argument);
}

} // namespace
