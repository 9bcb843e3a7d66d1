#include <gtest/gtest.h>

#include <random>

#include "p2p/identify.hpp"
#include "node/transport_host.hpp"
#include "p2p/multiaddr_bytes.hpp"
#include "p2p/noise_handshake.hpp"
#include "p2p/p2p_connection.hpp"
#include "p2p/protobuf.hpp"

using namespace aqua;
using namespace aqua::p2p;

namespace {

constexpr std::string_view msg_proto = "/aqua/msg/1.0.0";

keypair identity(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value(); }

struct side {
  std::vector<p2p_event> events;
  std::optional<error> err;
  std::vector<p2p_event> of(p2p_event_kind k) const {
    std::vector<p2p_event> out;
    for (const auto& e : events)
      if (e.kind == k) out.push_back(e);
    return out;
  }
  bytes data_on(std::uint32_t id) const {
    bytes out;
    for (const auto& e : events)
      if (e.kind == p2p_event_kind::stream_data && e.stream_id == id) out.insert(out.end(), e.data.begin(), e.data.end());
    return out;
  }
};

// Two connections back to back; bytes cross in random chunks.
struct pair_of {
  keypair ka = identity(1), kb = identity(2);
  deterministic_env ea{21}, eb{22};
  std::mt19937 rng{7};
  p2p_connection a, b;
  side sa, sb;
  explicit pair_of(std::optional<peer_id> expected = std::nullopt, p2p_config ca = {}, p2p_config cb = {})
      : a(p2p_connection::dialer(ka, ea, expected ? expected : std::optional<peer_id>(kb.id()), std::move(ca))),
        b(p2p_connection::listener(kb, eb, std::move(cb))) {}

  void deliver(p2p_connection& from, p2p_connection& to, side& s) {
    bytes out = from.take_output();
    for (std::size_t at = 0; at < out.size() && !s.err;) {
      const std::size_t n = std::min<std::size_t>(out.size() - at, 1 + rng() % 700);
      if (auto r = to.on_data(bytes_view(out).subspan(at, n)); !r) s.err = r.err();
      at += n;
    }
    while (auto ev = to.next_event()) s.events.push_back(std::move(*ev));
  }
  void run() {
    for (int i = 0; i < 1000 && (a.has_output() || b.has_output()); ++i) {
      deliver(a, b, sb);
      deliver(b, a, sa);
    }
  }
};

p2p_config with_msg() {
  p2p_config c;
  c.protocols = {std::string(msg_proto)};
  return c;
}

TEST(P2pConnection, EstablishesAndVerifiesPeers) {
  pair_of p;
  p.run();
  ASSERT_FALSE(p.sa.err);
  ASSERT_FALSE(p.sb.err);
  EXPECT_TRUE(p.a.established());
  EXPECT_TRUE(p.b.established());
  EXPECT_EQ(p.a.remote_peer(), p.kb.id());
  EXPECT_EQ(p.b.remote_peer(), p.ka.id());
  ASSERT_EQ(p.sa.of(p2p_event_kind::established).size(), 1u);
  EXPECT_EQ(p.sa.of(p2p_event_kind::established)[0].peer, p.kb.id());
  EXPECT_EQ(p.sb.of(p2p_event_kind::established)[0].peer, p.ka.id());
}

TEST(P2pConnection, RefusesWrongExpectedPeer) {
  pair_of p(identity(3).id());
  p.run();
  ASSERT_TRUE(p.sa.err);
  EXPECT_EQ(p.sa.err->code(), errc::wrong_recipient);
  EXPECT_EQ(p.sa.err->message().rfind("noise: dialled ", 0), 0u) << p.sa.err->message();  // "noise: " once
  EXPECT_TRUE(p.a.failed());
  EXPECT_FALSE(p.b.established());
}

TEST(P2pConnection, StreamsBothWays) {
  pair_of p(std::nullopt, with_msg(), with_msg());
  p.run();
  // a -> b, written before negotiation finishes (queued, then flushed).
  auto s1 = p.a.open_stream({std::string(msg_proto)});
  ASSERT_TRUE(s1);
  bytes big(200000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i % 251);
  ASSERT_EQ(*p.a.write(*s1, as_bytes("hello")), 5u);
  p.run();
  auto opened_b = p.sb.of(p2p_event_kind::stream_opened);
  ASSERT_EQ(opened_b.size(), 1u);
  EXPECT_TRUE(opened_b[0].inbound);
  EXPECT_EQ(opened_b[0].protocol, msg_proto);
  const auto in_id = opened_b[0].stream_id;
  EXPECT_EQ(p.sb.data_on(in_id), bytes(as_bytes("hello").begin(), as_bytes("hello").end()));
  auto opened_a = p.sa.of(p2p_event_kind::stream_opened);
  ASSERT_EQ(opened_a.size(), 1u);
  EXPECT_FALSE(opened_a[0].inbound);
  // Large write after negotiation: may be short, the rest after `writable`.
  std::size_t sent = 0;
  for (int i = 0; i < 100 && sent < big.size(); ++i) {
    auto n = p.a.write(*s1, bytes_view(big).subspan(sent));
    ASSERT_TRUE(n);
    sent += *n;
    p.run();
  }
  EXPECT_EQ(sent, big.size());
  bytes got = p.sb.data_on(in_id);
  ASSERT_EQ(got.size(), 5 + big.size());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), got.begin() + 5));
  // b -> a on its own stream; and b answers on the inbound one.
  auto s2 = p.b.open_stream({"/nope/1.0.0", std::string(msg_proto)});
  ASSERT_TRUE(s2);
  p.run();
  ASSERT_TRUE(p.b.write(*s2, as_bytes("from b")));
  ASSERT_TRUE(p.b.write(in_id, as_bytes("reply")));
  ASSERT_TRUE(p.b.close_stream(in_id));
  p.run();
  auto opened_a2 = p.sa.of(p2p_event_kind::stream_opened);
  ASSERT_EQ(opened_a2.size(), 2u);
  EXPECT_TRUE(opened_a2[1].inbound);
  EXPECT_EQ(p.sa.data_on(opened_a2[1].stream_id), bytes(as_bytes("from b").begin(), as_bytes("from b").end()));
  EXPECT_EQ(p.sa.data_on(*s1), bytes(as_bytes("reply").begin(), as_bytes("reply").end()));
  ASSERT_EQ(p.sa.of(p2p_event_kind::stream_closed).size(), 1u);
  EXPECT_EQ(p.sa.of(p2p_event_kind::stream_closed)[0].stream_id, *s1);
  ASSERT_TRUE(p.a.close_stream(*s1));
  p.run();
  EXPECT_EQ(p.sb.of(p2p_event_kind::stream_closed).size(), 1u);
  EXPECT_FALSE(p.sa.err);
  EXPECT_FALSE(p.sb.err);
}

TEST(P2pConnection, UnsupportedProtocolIsRefused) {
  pair_of p(std::nullopt, with_msg(), {});  // b does not serve /aqua/msg
  p.run();
  auto s = p.a.open_stream({std::string(msg_proto)});
  ASSERT_TRUE(s);
  p.run();
  auto resets = p.sa.of(p2p_event_kind::stream_reset);
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].stream_id, *s);
  EXPECT_TRUE(p.sb.of(p2p_event_kind::stream_opened).empty());
  EXPECT_EQ(p.a.stream_count(), 0u);
  EXPECT_FALSE(p.sa.err);
}

TEST(P2pConnection, PingBothWays) {
  pair_of p;
  p.run();
  ASSERT_TRUE(p.a.ping());
  ASSERT_TRUE(p.b.ping());
  p.run();
  ASSERT_EQ(p.sa.of(p2p_event_kind::pong).size(), 1u);
  EXPECT_GE(p.sa.of(p2p_event_kind::pong)[0].rtt_ms, 0);
  ASSERT_EQ(p.sb.of(p2p_event_kind::pong).size(), 1u);
  EXPECT_GE(p.sb.of(p2p_event_kind::pong)[0].rtt_ms, 0);
  EXPECT_EQ(p.a.stream_count(), 0u);
  EXPECT_EQ(p.b.stream_count(), 0u);
}

TEST(P2pConnection, IdentifyReportsObservedAddress) {
  p2p_config cb = with_msg();
  cb.observed_addr = multiaddr_from_text("/ip4/127.0.0.1/tcp/4242").value();
  cb.listen_addrs = {multiaddr_from_text("/ip4/127.0.0.1/tcp/4001").value()};
  p2p_config ca;
  ca.identify_on_connect = true;
  pair_of p(std::nullopt, ca, cb);
  p.run();
  auto ids = p.sa.of(p2p_event_kind::identified);
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_TRUE(ids[0].identify);
  const auto& m = *ids[0].identify;
  EXPECT_EQ(m.agent_version, "aqua/0.1");
  EXPECT_EQ(m.protocol_version, "ipfs/0.1.0");
  EXPECT_EQ(multiaddr_to_text(m.observed_addr).value(), "/ip4/127.0.0.1/tcp/4242");
  ASSERT_EQ(m.listen_addrs.size(), 1u);
  EXPECT_EQ(identify_peer(m).value(), p.kb.id());
  EXPECT_NE(std::find(m.protocols.begin(), m.protocols.end(), std::string(msg_proto)), m.protocols.end());
  EXPECT_NE(std::find(m.protocols.begin(), m.protocols.end(), std::string(ping_protocol_id)), m.protocols.end());
  EXPECT_TRUE(p.a.remote_identify());
  // The other direction, on request.
  ASSERT_TRUE(p.b.request_identify());
  p.run();
  ASSERT_EQ(p.sb.of(p2p_event_kind::identified).size(), 1u);
  EXPECT_EQ(identify_peer(*p.sb.of(p2p_event_kind::identified)[0].identify).value(), p.ka.id());
  EXPECT_EQ(p.a.stream_count(), 0u);
  EXPECT_EQ(p.b.stream_count(), 0u);
}

TEST(P2pConnection, IdentifyPushIsAccepted) {
  pair_of p;
  p.run();
  auto s = p.a.open_stream({std::string(identify_push_protocol_id)});
  ASSERT_TRUE(s);
  p.run();
  ASSERT_EQ(p.sa.of(p2p_event_kind::stream_opened).size(), 1u);
  bytes msg = encode_identify(p.a.own_identify());
  bytes framed;
  pb::put_varint(framed, msg.size());
  framed.insert(framed.end(), msg.begin(), msg.end());
  ASSERT_TRUE(p.a.write(*s, framed));
  ASSERT_TRUE(p.a.close_stream(*s));
  p.run();
  EXPECT_EQ(p.sa.of(p2p_event_kind::stream_closed).size(), 1u);
  EXPECT_TRUE(p.sb.of(p2p_event_kind::stream_opened).empty());
  EXPECT_FALSE(p.sb.err);
}

// The plugin path: Noise sessions from the node's transport_host (transport ABI 2) on one side.
TEST(P2pConnection, SessionsFromATransportHost) {
  auto ka = identity(1), kb = identity(2);
  deterministic_env ea(31), eb(32);
  node_transport_host th(ka, std::make_shared<deterministic_env>(33));
  auto sessions = [&th](bool initiator, std::optional<peer_id> expected) { return th.new_session(initiator, expected); };
  auto a = p2p_connection::dialer(sessions, ka.pub(), ea, kb.id(), with_msg());
  auto b = p2p_connection::listener(kb, eb, with_msg());
  for (int i = 0; i < 20 && (a.has_output() || b.has_output()); ++i) {
    ASSERT_TRUE(b.on_data(a.take_output()));
    ASSERT_TRUE(a.on_data(b.take_output()));
  }
  ASSERT_TRUE(a.established());
  ASSERT_TRUE(b.established());
  EXPECT_EQ(b.remote_peer(), ka.id());
  // A wrong expected peer fails the same way as with a key pair.
  auto c = p2p_connection::dialer(sessions, ka.pub(), ea, identity(7).id());
  auto d = p2p_connection::listener(kb, eb);
  result<void> r;
  for (int i = 0; i < 20 && r && (c.has_output() || d.has_output()); ++i) {
    (void) d.on_data(c.take_output());
    r = c.on_data(d.take_output());
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::wrong_recipient);
}

TEST(P2pConnection, GarbageFailsTheConnection) {
  auto k = identity(1);
  deterministic_env e(1);
  auto c = p2p_connection::listener(k, e);
  bytes junk(64, 0xff);
  auto r = c.on_data(junk);
  EXPECT_FALSE(r);
  EXPECT_TRUE(c.failed());
  EXPECT_FALSE(c.on_data(junk));
}

TEST(Identify, RoundTripAndErrors) {
  identify_info m;
  m.protocol_version = "ipfs/0.1.0";
  m.agent_version = "aqua/0.1";
  m.public_key = encode_libp2p_public_key(identity(4).pub());
  m.listen_addrs = {multiaddr_from_text("/ip4/1.2.3.4/tcp/1").value()};
  m.observed_addr = multiaddr_from_text("/ip4/5.6.7.8/tcp/2").value();
  m.protocols = {"/a", "/b"};
  auto enc = encode_identify(m);
  auto dec = decode_identify(enc);
  ASSERT_TRUE(dec);
  EXPECT_EQ(*dec, m);
  EXPECT_EQ(identify_peer(*dec).value(), identity(4).id());
  // Field 1 as a varint: wrong wire type.
  EXPECT_EQ(decode_identify(bytes{0x08, 0x01}).err().code(), errc::bad_frame);
  EXPECT_EQ(decode_identify(bytes{0x0a, 0x05, 0x01}).err().code(), errc::bad_frame);
  EXPECT_EQ(decode_identify(bytes(identify_max_message + 1, 0)).err().code(), errc::frame_too_large);
  EXPECT_EQ(identify_peer(identify_info{}).err().code(), errc::bad_frame);
  // Unknown fields are skipped.
  bytes with_unknown = enc;
  with_unknown.insert(with_unknown.end(), {0x48, 0x01});
  EXPECT_EQ(decode_identify(with_unknown).value(), m);
}

} // namespace
