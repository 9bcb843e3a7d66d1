#include <gtest/gtest.h>

#include "identity/keypair.hpp"
#include "p2p/multiaddr_bytes.hpp"
#include "p2p/relay_messages.hpp"

using namespace aqua;
using namespace aqua::p2p;
using namespace aqua::p2p::relay;

namespace {

bytes hex(std::string_view h) { return from_hex(h).value(); }
peer_id id_of(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value().id(); }

// Encoded by js-libp2p's @libp2p/circuit-relay-v2 4.2 protobuf codec (HopMessage.encode /
// StopMessage.encode) for the keys with seeds 01..01 (relay) and 02..02 (peer).
constexpr const char* js_hop_reserve = "0800";
constexpr const char* js_hop_connect =
    "080112280a260024080112208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394";
constexpr const char* js_hop_no_reservation = "080228cc01";
constexpr const char* js_stop_status_ok = "08012064";
// Limit { duration: 120000 (js sends ms), data: 131072 }
constexpr const char* js_stop_connect =
    "080012280a260024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c1a0808c0a90710808008";
// STATUS OK with Reservation { expire 1700003600, addrs [/ip4/1.2.3.4/tcp/4001/p2p/<relay>], voucher } and Limit.
constexpr const char* js_hop_reserved =
    "08021a80020890fecfaa0612310401020304060fa1a503260024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3"
    "748801b40f6f5c1ac4010a24080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c120203021a560a"
    "260024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c12260024080112208139770ea87d175f"
    "56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b3941890fecfaa062a40554a21f93548e6070ed702bb4d9cb0832d7e88e128e688"
    "d6ce391eaaba452b85c1db1a8a330c14d069d55e4791e38c1c2edfee786a1d0958e51874b90ac90e0b220808c0a907108080082864";

} // namespace

TEST(relay_messages, encodes_like_js_libp2p_including_explicit_reserve_type) {
  EXPECT_EQ(to_hex(encode(hop_reserve())), js_hop_reserve);
  EXPECT_EQ(to_hex(encode(hop_connect(id_of(2)))), js_hop_connect);
  EXPECT_EQ(to_hex(encode(hop_status(status::no_reservation))), js_hop_no_reservation);
  EXPECT_EQ(to_hex(encode(stop_status(status::ok))), js_stop_status_ok);
  EXPECT_EQ(to_hex(encode(stop_connect(id_of(1), limit{120000, 131072}))), js_stop_connect);
}

TEST(relay_messages, decodes_a_js_reservation_reply_and_reencodes_it_identically) {
  auto in = hex(js_hop_reserved);
  auto m = decode_hop(in);
  ASSERT_TRUE(m) << m.err().what();
  EXPECT_EQ(m->type, hop_message::kind::status);
  EXPECT_EQ(m->status, status::ok);
  ASSERT_TRUE(m->reservation);
  EXPECT_EQ(m->reservation->expire, 1700003600u);
  ASSERT_EQ(m->reservation->addrs.size(), 1u);
  EXPECT_EQ(multiaddr_to_text(m->reservation->addrs[0]).value(),
            "/ip4/1.2.3.4/tcp/4001/p2p/" + id_of(1).str());
  EXPECT_EQ(m->reservation->voucher.size(), 196u);
  ASSERT_TRUE(m->limit);
  EXPECT_EQ(m->limit->duration, 120000u);
  EXPECT_EQ(m->limit->duration_seconds(), 120u);
  EXPECT_EQ(m->limit->data, 131072u);
  EXPECT_EQ(encode(*m), in);
}

TEST(relay_messages, decodes_js_stop_connect_and_the_peer_id) {
  auto m = decode_stop(hex(js_stop_connect));
  ASSERT_TRUE(m) << m.err().what();
  EXPECT_EQ(m->type, stop_message::kind::connect);
  EXPECT_EQ(peer_of(m->peer).value(), id_of(1));
  EXPECT_FALSE(m->status);
  auto c = decode_hop(hex(js_hop_connect));
  ASSERT_TRUE(c);
  EXPECT_EQ(peer_of(c->peer).value(), id_of(2));
}

TEST(relay_messages, round_trips_every_field) {
  hop_message h = hop_status(status::ok, limit{120, std::nullopt},
                             reservation{42, {bytes{4, 1, 2, 3, 4}, bytes{0x29}}, bytes{9, 9}});
  h.peer = peer_info{id_of(3).to_bytes(), {bytes{1}, bytes{2}}};
  EXPECT_EQ(decode_hop(encode(h)).value(), h);
  stop_message s = stop_connect(id_of(4), limit{std::nullopt, 7});
  s.status = status::connection_failed;
  EXPECT_EQ(decode_stop(encode(s)).value(), s);
}

TEST(relay_messages, requires_a_known_type) {
  auto none = decode_hop(hex("28cc01"));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.err().code(), errc::bad_frame);
  EXPECT_NE(none.err().message().find("missing type"), std::string::npos);
  EXPECT_FALSE(decode_hop({}));
  auto unknown = decode_hop(hex("0803"));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.err().message().find("unknown type 3"), std::string::npos);
  EXPECT_FALSE(decode_stop(hex("0802")));
}

TEST(relay_messages, rejects_wrong_wire_types_and_truncation) {
  EXPECT_FALSE(decode_hop(hex("0a00")));          // type as bytes
  EXPECT_FALSE(decode_hop(hex("08011002")));      // peer as varint
  EXPECT_FALSE(decode_hop(hex("0802220408c0a9"))); // limit says 4 bytes, 3 follow
  EXPECT_FALSE(decode_hop(hex("0802220208ff")));  // limit.duration varint truncated
  EXPECT_FALSE(decode_hop(hex("080122020a05")));  // Limit with a bytes duration
  auto big = decode_hop(hex("0802220608ffffffff1f"));  // duration 2^36-1 > uint32
  ASSERT_FALSE(big);
  EXPECT_NE(big.err().message().find("exceeds uint32"), std::string::npos);
  auto in = hex(js_hop_reserved);
  // A prefix decodes only when it ends at a top-level field boundary (a valid, shorter message).
  std::size_t decoded = 0;
  for (std::size_t n = 1; n < in.size(); ++n) {
    auto m = decode_hop(bytes_view(in).first(n));
    if (!m) continue;
    ++decoded;
    EXPECT_EQ(encode(*m), bytes(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n)));
  }
  EXPECT_EQ(decoded, 3u);  // after type, after reservation, after limit
}

TEST(relay_messages, skips_unknown_fields_merges_repeats_and_keeps_unknown_status) {
  // type CONNECT, unknown field 9 (bytes "a"), peer { id=01 }, peer { addrs=[02] }, status 300
  auto ok = decode_hop(hex("08014a016112030a0101120312010228ac02"));
  ASSERT_TRUE(ok) << ok.err().what();
  ASSERT_TRUE(ok->peer);
  EXPECT_EQ(ok->peer->id, bytes{1});
  EXPECT_EQ(ok->peer->addrs, std::vector<bytes>{bytes{2}});
  EXPECT_EQ(static_cast<std::uint32_t>(*ok->status), 300u);
  EXPECT_EQ(to_string(*ok->status), "UNKNOWN(300)");
  EXPECT_EQ(to_string(status::no_reservation), "NO_RESERVATION");
}

TEST(relay_messages, rejects_messages_over_the_size_bound) {
  hop_message h = hop_status(status::ok);
  h.peer = peer_info{bytes(max_message_size, 7), {}};
  auto enc = encode(h);
  auto d = decode_hop(enc);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.err().code(), errc::frame_too_large);
  auto f = frame(enc);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.err().code(), errc::frame_too_large);
  EXPECT_EQ(to_hex(frame(hex("0800")).value()), "020800");
}

TEST(relay_messages, limit_duration_tolerates_js_milliseconds) {
  auto secs = [](std::optional<std::uint32_t> d) { return limit{d, std::nullopt}.duration_seconds(); };
  EXPECT_EQ(secs(std::nullopt), 0u);
  EXPECT_EQ(secs(0), 0u);
  EXPECT_EQ(secs(120), 120u);      // go-libp2p default, seconds
  EXPECT_EQ(secs(3600), 3600u);    // one hour in seconds
  EXPECT_EQ(secs(1500), 1500u);
  EXPECT_EQ(secs(86400), 86400u);  // one day in seconds: not a multiple of 1000
  EXPECT_EQ(secs(120000), 120u);   // js-libp2p default, milliseconds
  EXPECT_EQ(secs(30000), 30u);
  EXPECT_EQ(secs(1000), 1u);
  EXPECT_EQ(secs(86401), 87u);     // > one day: milliseconds, rounded up
}

TEST(relay_messages, delimited_reader_reassembles_byte_by_byte) {
  auto wire = frame(hex(js_hop_reserved)).value();
  delimited_reader r;
  EXPECT_EQ(r.wanted(), 1u);
  std::optional<bytes> got;
  for (std::size_t i = 0; i < wire.size(); ++i) {
    EXPECT_GE(r.wanted(), 1u);
    r.feed(bytes_view(wire).subspan(i, 1));
    auto m = r.next();
    ASSERT_TRUE(m) << m.err().what();
    if (*m) {
      EXPECT_EQ(i, wire.size() - 1);
      got = **m;
    }
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, hex(js_hop_reserved));
  EXPECT_EQ(r.buffered(), 0u);

  delimited_reader exact;  // wanted() never asks for bytes past the message
  exact.feed(bytes_view(wire).first(1));
  EXPECT_EQ(exact.wanted(), 1u);  // the prefix is two bytes
  exact.feed(bytes_view(wire).subspan(1, 1));
  EXPECT_EQ(exact.wanted(), wire.size() - 2);
  exact.feed(bytes_view(wire).subspan(2, 10));
  EXPECT_EQ(exact.wanted(), wire.size() - 12);
}

TEST(relay_messages, delimited_reader_leaves_relayed_bytes_after_the_message) {
  auto wire = frame(hex(js_stop_status_ok)).value();
  auto second = frame(hex(js_hop_reserve)).value();
  wire.insert(wire.end(), second.begin(), second.end());
  wire.insert(wire.end(), {0xde, 0xad});  // relayed data (a partial prefix would also wait)
  delimited_reader r;
  r.feed(wire);
  auto a = r.next();
  ASSERT_TRUE(a && *a);
  EXPECT_EQ(to_hex(**a), js_stop_status_ok);
  auto b = r.next();
  ASSERT_TRUE(b && *b);
  EXPECT_EQ(to_hex(**b), js_hop_reserve);
  EXPECT_EQ(r.buffered(), 2u);
  EXPECT_EQ(r.take_rest(), (bytes{0xde, 0xad}));
  EXPECT_EQ(r.buffered(), 0u);
  auto empty = r.next();
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty);
}

TEST(relay_messages, delimited_reader_fails_early_and_sticks) {
  delimited_reader big;
  big.feed(hex("8120"));  // announces 4097 bytes
  auto e = big.next();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.err().code(), errc::frame_too_large);
  big.feed(hex("00"));
  EXPECT_FALSE(big.next());
  EXPECT_EQ(big.wanted(), 0u);

  delimited_reader nonminimal;
  nonminimal.feed(hex("8000"));
  auto n = nonminimal.next();
  ASSERT_FALSE(n);
  EXPECT_EQ(n.err().code(), errc::bad_frame);

  delimited_reader endless;
  endless.feed(bytes(9, 0xff));
  ASSERT_TRUE(endless.next());  // still waiting
  endless.feed(bytes(1, 0xff));
  auto x = endless.next();
  ASSERT_FALSE(x);
  EXPECT_EQ(x.err().code(), errc::bad_frame);

  delimited_reader small(8);
  small.feed(frame(bytes(9, 0)).value());
  EXPECT_FALSE(small.next());

  delimited_reader zero;
  zero.feed(hex("00"));
  auto z = zero.next();
  ASSERT_TRUE(z && *z);
  EXPECT_TRUE((*z)->empty());
  EXPECT_FALSE(decode_hop(**z));  // an empty HopMessage has no type
}

TEST(relay_messages, peer_of_requires_an_ed25519_peer_id) {
  EXPECT_FALSE(peer_of(std::nullopt));
  EXPECT_FALSE(peer_of(peer_info{}));
  auto sha = peer_of(peer_info{hex("1220" + std::string(64, 'a')), {}});
  ASSERT_FALSE(sha);
  EXPECT_EQ(sha.err().code(), errc::wrong_multihash);
}
