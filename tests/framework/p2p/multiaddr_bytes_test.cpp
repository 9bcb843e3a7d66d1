#include <gtest/gtest.h>

#include "p2p/multiaddr_bytes.hpp"

using namespace aqua;
using namespace aqua::p2p;

namespace {

bytes hex(std::string_view h) { return from_hex(h).value(); }

// Peer IDs of the Ed25519 keys with seeds 01..01 and 02..02.
constexpr const char* relay_id = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";
constexpr const char* peer_id_text = "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq";

struct vector {
  std::string text;
  const char* hex;
};

// From go-multiaddr's multiaddr_test.go (TestStringToBytes) and from
// js @multiformats/multiaddr 13 (multiaddr(text).bytes).
std::vector<vector> vectors() {
  return {
      {"/ip4/127.0.0.1/udp/1234", "047f000001910204d2"},
      {"/ip4/127.0.0.1/tcp/4321", "047f0000010610e1"},
      {"/ip4/127.0.0.1/udp/1234/ip4/127.0.0.1/tcp/4321", "047f000001910204d2047f0000010610e1"},
      {"/ip4/127.0.0.1/tcp/4001", "047f000001060fa1"},
      {"/ip6/::1/udp/4001/quic-v1", "290000000000000000000000000000000191020fa1cd03"},
      {"/dns4/relay.example.com/tcp/443/wss", "361172656c61792e6578616d706c652e636f6d0601bbde03"},
      {std::string("/ip4/1.2.3.4/tcp/4001/p2p/") + relay_id + "/p2p-circuit/p2p/" + peer_id_text,
       "0401020304060fa1a503260024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
       "a202a503260024080112208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"},
      {"/dns/example.com/tcp/443/tls/ws", "350b6578616d706c652e636f6d0601bbc003dd03"},
      {"/memory/alice", "890605616c696365"},
      {"/ip6/2001:db8::1/tcp/80", "2920010db8000000000000000000000001060050"},
      {"/dns6/a.b/udp/53/quic-v1/webtransport/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g",
       "3703612e6291020035cd03d103d203221220c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2"},
      {"/ip4/10.0.0.1/tcp/1/noise", "040a000001060001c603"},
      {"/ip4/1.2.3.4/udp/1/quic", "040102030491020001cc03"},
      {"/dnsaddr/bootstrap.libp2p.io", "3813626f6f7473747261702e6c69627032702e696f"},
      {"/ip6zone/eth0/ip6/fe80::1/tcp/7", "2a046574683029fe800000000000000000000000000001060007"},
      {"/sni/example.com", "c1030b6578616d706c652e636f6d"},
      {"/ipcidr/24", "2b18"},
      {"/ip4/1.2.3.4/tcp/80/http", "0401020304060050e003"},
      {"/ip4/1.2.3.4/tcp/443/https", "04010203040601bbbb03"},
      {"/dccp/5", "210005"},
      {"/sctp/6", "84010006"},
      {"/ip4/1.1.1.1/udp/3/utp", "040101010191020003ae02"},
      {"/ip4/1.1.1.1/udp/3/udt", "040101010191020003ad02"},
      {"/webrtc", "9902"},
      {"/ip4/1.1.1.1/tcp/1/tls/sni/x.y/ws", "0401010101060001c003c10303782e79dd03"},
  };
}

} // namespace

TEST(multiaddr_bytes, text_encodes_to_the_reference_bytes) {
  for (auto& v : vectors()) {
    auto b = multiaddr_from_text(v.text);
    ASSERT_TRUE(b) << v.text << ": " << b.err().what();
    EXPECT_EQ(to_hex(*b), v.hex) << v.text;
  }
}

TEST(multiaddr_bytes, reference_bytes_decode_to_the_same_text_and_reencode_identically) {
  for (auto& v : vectors()) {
    auto t = multiaddr_to_text(hex(v.hex));
    ASSERT_TRUE(t) << v.hex << ": " << t.err().what();
    EXPECT_EQ(*t, v.text);
    auto parts = decode_multiaddr(hex(v.hex));
    ASSERT_TRUE(parts);
    EXPECT_EQ(to_hex(encode_multiaddr(*parts)), v.hex);
  }
}

TEST(multiaddr_bytes, decodes_components_with_codes_and_raw_values) {
  auto parts = decode_multiaddr(hex("047f000001060fa1a202"));
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0], (ma_component{ma_code::ip4, {127, 0, 0, 1}}));
  EXPECT_EQ((*parts)[1], (ma_component{ma_code::tcp, {0x0f, 0xa1}}));
  EXPECT_EQ((*parts)[2], (ma_component{ma_code::p2p_circuit, {}}));
  EXPECT_EQ(ma_protocol_name(ma_code::quic_v1), "quic-v1");
  EXPECT_EQ(ma_protocol_name(12345), "");
}

TEST(multiaddr_bytes, known_protocols_without_text_form_decode_but_do_not_print) {
  // go-multiaddr vector for /onion/aaimaq4ygg2iegci:80
  auto b = hex("bc030010c0439831b48218480050");
  auto parts = decode_multiaddr(b);
  ASSERT_TRUE(parts);
  EXPECT_EQ(encode_multiaddr(*parts), b);
  auto t = multiaddr_to_text(b);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.err().code(), errc::bad_address);
  EXPECT_NE(t.err().message().find("onion"), std::string::npos);
}

TEST(multiaddr_bytes, rejects_unknown_codes_naming_code_and_offset) {
  auto r = decode_multiaddr(hex("047f00000163"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_address);
  EXPECT_NE(r.err().message().find("unknown protocol code 99 at byte 5"), std::string::npos) << r.err().message();
}

TEST(multiaddr_bytes, rejects_truncated_values_and_lengths) {
  auto r = decode_multiaddr(hex("047f00"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.err().message().find("needs 4 value bytes, 2 left"), std::string::npos) << r.err().message();
  EXPECT_FALSE(decode_multiaddr(hex("a503")));        // p2p without its length
  EXPECT_FALSE(decode_multiaddr(hex("a5030500")));    // p2p: 5 bytes announced, 1 present
  EXPECT_FALSE(decode_multiaddr(hex("a50380")));      // p2p: truncated length varint
  EXPECT_FALSE(decode_multiaddr(hex("8080808080")));  // truncated code varint
  // Every strict prefix of a long vector is rejected or ends at a component boundary.
  auto full = hex(vectors()[6].hex);
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto p = decode_multiaddr(bytes_view(full).first(n));
    if (p) {
      EXPECT_EQ(encode_multiaddr(*p), bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
    }
  }
}

TEST(multiaddr_bytes, rejects_malformed_values) {
  EXPECT_FALSE(decode_multiaddr(hex("a50303000501")));  // p2p value is not a multihash (length mismatch)
  EXPECT_FALSE(decode_multiaddr(hex("a50300")));        // empty p2p value
  EXPECT_FALSE(decode_multiaddr(hex("3603612f62")));    // dns4 "a/b"
  EXPECT_FALSE(decode_multiaddr({}));
  bytes huge = hex("3580");  // dns, then a length that is never satisfied
  EXPECT_FALSE(decode_multiaddr(huge));
  bytes big;
  for (int i = 0; i < 200; ++i) {
    auto c = hex("047f000001060fa1");
    big.insert(big.end(), c.begin(), c.end());
  }
  auto r = decode_multiaddr(big);  // 1600 bytes > max_multiaddr_bytes
  ASSERT_FALSE(r);
  EXPECT_NE(r.err().message().find("exceeds"), std::string::npos);
}

TEST(multiaddr_bytes, rejects_bad_text) {
  for (const char* t : {"", "ip4/1.2.3.4", "/ip4/1.2.3", "/ip4/1.2.3.4/tcp/65536", "/tcp", "/foo/1", "/ip6/zz::1",
                        "/p2p/0OIl", "/dns4/", "/certhash/xabc", "/onion/aaimaq4ygg2iegci:80", "/ip4/1.2.3.4//tcp/1"}) {
    auto r = multiaddr_from_text(t);
    EXPECT_FALSE(r) << t;
    if (!r) {
      EXPECT_EQ(r.err().code(), errc::bad_address) << t;
    }
  }
}

TEST(multiaddr_bytes, normalises_text_forms) {
  EXPECT_EQ(multiaddr_to_text(multiaddr_from_text("/ip6/2001:0db8:0:0:0:0:0:1/tcp/80").value()).value(),
            "/ip6/2001:db8::1/tcp/80");
  EXPECT_EQ(multiaddr_to_text(multiaddr_from_text(std::string("/ipfs/") + relay_id).value()).value(),
            std::string("/p2p/") + relay_id);
  EXPECT_EQ(multiaddr_to_text(multiaddr_from_text("/ip4/1.2.3.4/tcp/1/").value()).value(), "/ip4/1.2.3.4/tcp/1");
  // certhash accepts multibase base58btc too and prints base64url
  auto z = multiaddr_from_text("/certhash/zQmNLei78zWmzUdbeRB3CiUfAizWUrbeeZh5K1rhAQKCh51");
  ASSERT_TRUE(z) << z.err().what();
  EXPECT_EQ(multiaddr_to_text(*z).value().substr(0, 11), "/certhash/u");
}

TEST(multiaddr_bytes, p2p_accepts_non_ed25519_multihashes) {
  // sha2-256 multihash peer ID (RSA keys): Qm...
  auto b = multiaddr_from_text("/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN");
  ASSERT_TRUE(b) << b.err().what();
  EXPECT_EQ((*b)[0], 0xa5);
  EXPECT_EQ(multiaddr_to_text(*b).value(), "/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN");
}

TEST(multiaddr_bytes, converts_the_public_multiaddr_type_both_ways) {
  auto text = std::string("/ip4/127.0.0.1/tcp/4001/p2p/") + relay_id + "/p2p-circuit/p2p/" + peer_id_text;
  auto m = multiaddr::parse(text).value();
  auto b = multiaddr_to_bytes(m);
  ASSERT_TRUE(b) << b.err().what();
  auto back = multiaddr_from_bytes(*b);
  ASSERT_TRUE(back) << back.err().what();
  EXPECT_EQ(back->str(), text);
  EXPECT_EQ(back->value_of("tcp"), "4001");
  // The public type does not model quic-v1: decoding succeeds, conversion does not.
  auto q = multiaddr_from_bytes(hex("290000000000000000000000000000000191020fa1cd03"));
  ASSERT_FALSE(q);
  EXPECT_EQ(q.err().code(), errc::bad_address);
}
