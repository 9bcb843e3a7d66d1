// relay_server over 127.0.0.1: reservations and their limits (raw HOP
// requests, raw_peer.hpp), refusals, addresses, start errors. Circuits:
// relay_server_circuits_test.cpp; stream services: relay_server_services_test.cpp.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
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

TEST(RelayServer, RefusesConnectsBeyondTheRateLimit) {
  relay_server_config cfg;
  cfg.hop.max_connects_per_window = 1;
  server s(cfg);
  raw_peer a(1, s.port(), s.key.id()), b(2, s.port(), s.key.id());
  ASSERT_TRUE(a.wait_established() && b.wait_established());
  ASSERT_EQ(a.hop(relay::hop_reserve())->status, relay::status::ok);
  EXPECT_EQ(b.hop(relay::hop_connect(a.id()))->status, relay::status::connection_failed);  // a does not speak STOP
  EXPECT_EQ(b.hop(relay::hop_connect(a.id()))->status, relay::status::resource_limit_exceeded);
  EXPECT_EQ(s.rs->stats().hop.connects_refused, 1u);
}

// Refused CONNECTs count toward the rate limit (docs/protocol/relay-v2.md, "Relay server policy"): a source
// probing peers without reservations is throttled like any other, and then cannot reach a reserved one either.
TEST(RelayServer, CountsConnectsRefusedWithNoReservationTowardTheRateLimit) {
  relay_server_config cfg;
  cfg.hop.max_connects_per_window = 2;
  server s(cfg);
  raw_peer a(1, s.port(), s.key.id()), b(2, s.port(), s.key.id()), c(3, s.port(), s.key.id());
  ASSERT_TRUE(a.wait_established() && b.wait_established() && c.wait_established());
  ASSERT_EQ(a.hop(relay::hop_reserve())->status, relay::status::ok);
  const peer_id nobody = keypair::from_seed(bytes(32, 9)).value().id();
  EXPECT_EQ(b.hop(relay::hop_connect(nobody))->status, relay::status::no_reservation);
  EXPECT_EQ(b.hop(relay::hop_connect(nobody))->status, relay::status::no_reservation);
  EXPECT_EQ(b.hop(relay::hop_connect(a.id()))->status, relay::status::resource_limit_exceeded);
  EXPECT_EQ(b.hop(relay::hop_connect(nobody))->status, relay::status::resource_limit_exceeded);
  EXPECT_EQ(c.hop(relay::hop_connect(nobody))->status, relay::status::no_reservation);  // per source
  auto st = s.rs->stats();
  EXPECT_EQ(st.hop.connects_refused, 5u);
  EXPECT_EQ(st.hop.connects_granted, 0u);
  EXPECT_EQ(st.hop_refused, 5u);
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

// A plain TCP connection from `ip` (any 127/8 address: Linux routes them all to lo) to 127.0.0.1:port.
int connect_from(const char* ip, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{}, to{};
  local.sin_family = to.sin_family = AF_INET;
  inet_pton(AF_INET, ip, &local.sin_addr);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  to.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The relay ended the connection (EOF or reset); bytes it sent (multistream) are read and dropped.
bool ended_by_relay(int fd) {
  char buf[512];
  for (int i = 0; i < 64; ++i) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  }
  return false;
}

// `n` plain TCP connections from `ip`, and which of them the relay has ended so far.
struct tcp_burst {
  std::vector<int> fds;
  std::vector<bool> ended;
  tcp_burst(const char* ip, std::uint16_t port, int n) {
    for (int i = 0; i < n; ++i) {
      const int fd = connect_from(ip, port);
      EXPECT_GE(fd, 0) << std::strerror(errno);
      fds.push_back(fd);
    }
    ended.assign(fds.size(), false);
  }
  ~tcp_burst() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  std::ptrdiff_t count_ended() {
    for (std::size_t i = 0; i < fds.size(); ++i) ended[i] = ended[i] || (fds[i] >= 0 && ended_by_relay(fds[i]));
    return std::count(ended.begin(), ended.end(), true);
  }
};

// One address cannot take every connection slot, however many connections it opens: the relay keeps
// max_connections_per_ip from it and refuses the rest at accept, so peers elsewhere still get in.
TEST(RelayServer, LimitsTheConnectionsFromOneAddress) {
  relay_server_config cfg;
  cfg.max_connections = 24;
  cfg.max_connections_per_ip = 8;
  server s(cfg);
  tcp_burst flood("127.0.0.2", s.port(), 24);
  EXPECT_TRUE(test::eventually([&] { return flood.count_ended() == 16; }, 5s)) << flood.count_ended();
  // Another address still connects, and a peer reserves.
  const int other = connect_from("127.0.0.3", s.port());
  ASSERT_GE(other, 0);
  test::raw_peer a(1, s.port(), s.key.id());
  ASSERT_TRUE(a.wait_established());
  EXPECT_EQ(a.hop(relay::hop_reserve())->status, relay::status::ok);
  EXPECT_FALSE(ended_by_relay(other));
  EXPECT_EQ(flood.count_ended(), 16);
  // Slots free again as connections from the address close.
  for (std::size_t i = 0; i < flood.fds.size(); ++i) {
    if (flood.ended[i]) continue;
    ::close(flood.fds[i]);
    flood.fds[i] = -1;
  }
  std::this_thread::sleep_for(300ms);  // the relay reads their EOFs
  const int again = connect_from("127.0.0.2", s.port());
  ASSERT_GE(again, 0);
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(ended_by_relay(again));
  ::close(other);
  ::close(again);
}

// Each new TCP connection costs the relay a Noise handshake: one address gets new_connections_per_ip_per_s a
// second (a bucket of that many), the rest are closed at accept; it gets back in as the bucket refills.
TEST(RelayServer, LimitsTheNewConnectionsASecondFromOneAddress) {
  relay_server_config cfg;
  cfg.new_connections_per_ip_per_s = 4;
  server s(cfg);
  tcp_burst burst("127.0.0.2", s.port(), 10);
  // 4 kept at once; at most one more if the burst's accepts spread over a quarter of a second.
  EXPECT_TRUE(test::eventually([&] { return burst.count_ended() >= 5; }, 5s)) << burst.count_ended();
  std::this_thread::sleep_for(200ms);
  EXPECT_LE(burst.count_ended(), 6);
  // Another address has its own bucket: a peer there connects and reserves.
  test::raw_peer a(1, s.port(), s.key.id());
  ASSERT_TRUE(a.wait_established());
  EXPECT_EQ(a.hop(relay::hop_reserve())->status, relay::status::ok);
  // A second later the address gets in again.
  std::this_thread::sleep_for(1100ms);
  const int again = connect_from("127.0.0.2", s.port());
  ASSERT_GE(again, 0);
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(ended_by_relay(again));
  ::close(again);
}

TEST(RelayServer, AnnouncesInterfaceAddressesForAnyAndConfiguredOnesInstead) {
  relay_server_config cfg;
  cfg.listen = {"/ip4/0.0.0.0/tcp/0"};
  server any(cfg);
  const auto all = any.rs->addresses();
  auto local = std::find_if(all.begin(), all.end(), [](const std::string& a) { return a.rfind("/ip4/127.0.0.1/", 0) == 0; });
  ASSERT_NE(local, all.end());
  for (const auto& a : all) EXPECT_EQ(a.find("0.0.0.0"), std::string::npos) << a;
  test::raw_peer a(1, test::port_of(*local), any.key.id());
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
