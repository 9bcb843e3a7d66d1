#include <gtest/gtest.h>

#include "identity/keypair.hpp"
#include "p2p/hop_policy.hpp"
#include "p2p/multiaddr_bytes.hpp"
#include "p2p/signed_envelope.hpp"

using namespace aqua;
using namespace aqua::p2p;
using namespace aqua::p2p::relay;

namespace {

constexpr std::int64_t t0 = 1700000000000;
constexpr std::int64_t hour = 3600 * 1000;

peer_id id_of(std::uint8_t n) { return keypair::from_seed(bytes(32, n)).value().id(); }

} // namespace

TEST(hop_policy, grants_a_reservation_with_go_libp2p_defaults) {
  hop_policy p;
  auto g = p.reserve(id_of(1), "192.0.2.1", t0);
  ASSERT_TRUE(g) << g.reason();
  EXPECT_EQ(g.code(), status::ok);
  EXPECT_EQ(g->expire_ms, t0 + hour);
  EXPECT_EQ(g->expire_s, static_cast<std::uint64_t>((t0 + hour) / 1000));
  EXPECT_FALSE(g->refreshed);
  ASSERT_TRUE(g->limit);
  EXPECT_EQ(g->limit->duration, 120u);  // seconds on the wire, per spec
  EXPECT_EQ(g->limit->data, 131072u);
  EXPECT_TRUE(p.has_reservation(id_of(1), t0));
  EXPECT_EQ(p.stats().reservations, 1u);
}

TEST(hop_policy, refreshing_extends_the_reservation_without_using_another_slot) {
  hop_config c;
  c.max_reservations = 1;
  hop_policy p(c);
  ASSERT_TRUE(p.reserve(id_of(1), "192.0.2.1", t0));
  auto again = p.reserve(id_of(1), "192.0.2.1", t0 + 10 * 60 * 1000);
  ASSERT_TRUE(again) << again.reason();
  EXPECT_TRUE(again->refreshed);
  EXPECT_EQ(again->expire_ms, t0 + 10 * 60 * 1000 + hour);
  EXPECT_EQ(p.stats().reservations, 1u);
  EXPECT_EQ(p.stats().reservations_refreshed, 1u);
  EXPECT_TRUE(p.has_reservation(id_of(1), t0 + hour + 1));  // the old expiry no longer applies
}

TEST(hop_policy, refuses_reservations_beyond_the_total) {
  hop_config c;
  c.max_reservations = 3;
  hop_policy p(c);
  for (std::uint8_t i = 1; i <= 3; ++i) ASSERT_TRUE(p.reserve(id_of(i), "198.51.100." + std::to_string(i), t0));
  auto r = p.reserve(id_of(4), "198.51.100.4", t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), status::reservation_refused);
  EXPECT_NE(r.reason().find("maximum of 3 reservations"), std::string::npos) << r.reason();
  EXPECT_TRUE(p.reserve(id_of(2), "198.51.100.2", t0 + 1));  // a refresh still fits
  EXPECT_EQ(p.stats().reservations_refused, 1u);
}

TEST(hop_policy, refuses_reservations_beyond_the_per_ip_limit) {
  hop_policy p;  // 8 per IP
  for (std::uint8_t i = 1; i <= 8; ++i) ASSERT_TRUE(p.reserve(id_of(i), "203.0.113.7", t0));
  auto r = p.reserve(id_of(9), "203.0.113.7", t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), status::reservation_refused);
  EXPECT_NE(r.reason().find("203.0.113.7"), std::string::npos);
  EXPECT_TRUE(p.reserve(id_of(9), "203.0.113.8", t0));
  EXPECT_TRUE(p.reserve(id_of(3), "203.0.113.7", t0 + 1));  // refresh from the full IP
  // Moving a reservation to another IP frees its slot on the old one.
  EXPECT_TRUE(p.reserve(id_of(4), "203.0.113.9", t0 + 2));
  EXPECT_TRUE(p.reserve(id_of(10), "203.0.113.7", t0 + 3));
}

TEST(hop_policy, a_refused_refresh_keeps_the_existing_reservation) {
  hop_config c;
  c.max_reservations_per_ip = 1;
  hop_policy p(c);
  ASSERT_TRUE(p.reserve(id_of(1), "192.0.2.1", t0));
  ASSERT_TRUE(p.reserve(id_of(2), "192.0.2.2", t0));
  auto r = p.reserve(id_of(1), "192.0.2.2", t0 + 5);
  ASSERT_FALSE(r);
  // The wire only says RESERVATION_REFUSED: the relay logs this reason, which names the setting to raise.
  EXPECT_NE(r.reason().find("IP '192.0.2.2' already holds the maximum of 1 reservations (max_reservations_per_ip)"),
            std::string::npos) << r.reason();
  EXPECT_TRUE(p.has_reservation(id_of(1), t0 + 5));
  EXPECT_FALSE(p.has_reservation(id_of(1), t0 + hour));
}

TEST(hop_policy, reservations_expire) {
  hop_policy p;
  ASSERT_TRUE(p.reserve(id_of(1), "192.0.2.1", t0));
  EXPECT_EQ(p.expire(t0 + hour - 1), 0u);
  auto late = p.connect(id_of(2), id_of(1), t0 + hour);  // before expire() runs
  ASSERT_FALSE(late);
  EXPECT_EQ(late.code(), status::no_reservation);
  EXPECT_NE(late.reason().find("expired"), std::string::npos);
  EXPECT_EQ(p.expire(t0 + hour), 1u);
  EXPECT_EQ(p.stats().reservations, 0u);
  EXPECT_EQ(p.stats().reservations_expired, 1u);
  EXPECT_FALSE(p.has_reservation(id_of(1), t0 + hour));
}

TEST(hop_policy, connect_needs_a_reservation_of_the_destination) {
  hop_policy p;
  auto r = p.connect(id_of(2), id_of(1), t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), status::no_reservation);
  ASSERT_TRUE(p.reserve(id_of(1), "192.0.2.1", t0));
  auto g = p.connect(id_of(2), id_of(1), t0 + 1);
  ASSERT_TRUE(g) << g.reason();
  EXPECT_EQ(g->deadline_ms, t0 + 1 + 120 * 1000);
  EXPECT_EQ(g->data_limit, 131072u);
  ASSERT_TRUE(g->limit);
  EXPECT_EQ(g->limit->duration, 120u);
  EXPECT_EQ(p.stats().circuits, 1u);
  EXPECT_EQ(p.stats().connects_refused, 1u);
}

TEST(hop_policy, limits_open_circuits_per_peer_until_they_close) {
  hop_config c;
  c.max_circuits = 2;
  hop_policy p(c);
  ASSERT_TRUE(p.reserve(id_of(1), "192.0.2.1", t0));
  ASSERT_TRUE(p.reserve(id_of(3), "192.0.2.3", t0));
  auto a = p.connect(id_of(2), id_of(1), t0);
  auto b = p.connect(id_of(2), id_of(3), t0);
  ASSERT_TRUE(a && b);
  auto c3 = p.connect(id_of(2), id_of(1), t0);  // the source has 2 open
  ASSERT_FALSE(c3);
  EXPECT_EQ(c3.code(), status::resource_limit_exceeded);
  EXPECT_NE(c3.reason().find("source"), std::string::npos);
  ASSERT_TRUE(p.connect(id_of(4), id_of(1), t0));
  auto d = p.connect(id_of(5), id_of(1), t0);  // the destination has 2 open
  ASSERT_FALSE(d);
  EXPECT_NE(d.reason().find("destination"), std::string::npos);
  p.circuit_closed(a->id);
  p.circuit_closed(a->id);  // idempotent
  p.circuit_closed(999);    // unknown
  EXPECT_EQ(p.stats().circuits_closed, 1u);
  EXPECT_TRUE(p.connect(id_of(2), id_of(1), t0));
  EXPECT_EQ(p.stats().circuits, 3u);
}

TEST(hop_policy, rate_limits_connects_per_source) {
  hop_config c;
  c.max_connects_per_window = 3;
  c.connect_window_ms = 1000;
  hop_policy p(c);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(p.connect(id_of(2), id_of(1), t0).code(), status::no_reservation);
  auto r = p.connect(id_of(2), id_of(1), t0 + 999);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), status::resource_limit_exceeded);
  EXPECT_EQ(p.connect(id_of(3), id_of(1), t0 + 999).code(), status::no_reservation);  // other sources unaffected
  EXPECT_EQ(p.connect(id_of(2), id_of(1), t0 + 1000).code(), status::no_reservation);  // a new window
  p.expire(t0 + 5000);
}

TEST(hop_policy, denies_requests_over_relayed_connections) {
  hop_policy p;
  auto r = p.reserve(id_of(1), "192.0.2.1", t0, true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), status::permission_denied);
  ASSERT_TRUE(p.reserve(id_of(1), "192.0.2.1", t0));
  auto c = p.connect(id_of(2), id_of(1), t0, true);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), status::permission_denied);
}

TEST(hop_policy, disconnect_drops_the_reservation) {
  hop_policy p;
  ASSERT_TRUE(p.reserve(id_of(1), "192.0.2.1", t0));
  p.peer_disconnected(id_of(1));
  p.peer_disconnected(id_of(1));
  EXPECT_EQ(p.connect(id_of(2), id_of(1), t0).code(), status::no_reservation);
  EXPECT_EQ(p.stats().reservations_dropped, 1u);
}

TEST(hop_policy, unlimited_config_sends_no_limit) {
  hop_config c;
  c.limited = false;
  hop_policy p(c);
  auto g = p.reserve(id_of(1), "", t0);  // no IP: shares the "" bucket
  ASSERT_TRUE(g);
  EXPECT_FALSE(g->limit);
  auto k = p.connect(id_of(2), id_of(1), t0);
  ASSERT_TRUE(k);
  EXPECT_FALSE(k->limit);
  EXPECT_EQ(k->deadline_ms, 0);
  EXPECT_EQ(k->data_limit, 0u);
}

TEST(hop_policy, a_grant_becomes_a_reply_the_client_can_verify) {
  auto relay = keypair::from_seed(bytes(32, 1)).value();
  auto client = id_of(2);
  hop_policy p;
  auto g = p.reserve(client, "192.0.2.2", t0);
  ASSERT_TRUE(g);
  reservation r{g->expire_s, {multiaddr_from_text("/ip4/192.0.2.100/tcp/4001/p2p/" + relay.id().str()).value()},
                make_voucher(relay, client, g->expire_s)};
  auto wire = frame(encode(hop_status(status::ok, g->limit, r))).value();
  ASSERT_LE(wire.size(), max_message_size);

  delimited_reader rd;
  rd.feed(wire);
  auto msg = rd.next();
  ASSERT_TRUE(msg && *msg);
  auto reply = decode_hop(**msg);
  ASSERT_TRUE(reply) << reply.err().what();
  EXPECT_EQ(reply->status, status::ok);
  EXPECT_EQ(reply->limit->duration_seconds(), 120u);
  auto v = open_voucher(reply->reservation->voucher, relay.id(), t0);
  ASSERT_TRUE(v) << v.err().what();
  EXPECT_EQ(v->peer, client);
  EXPECT_EQ(v->expiration, reply->reservation->expire);
}
