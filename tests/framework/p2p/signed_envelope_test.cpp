#include <gtest/gtest.h>

#include "p2p/protobuf.hpp"
#include "p2p/signed_envelope.hpp"

using namespace aqua;
using namespace aqua::p2p;

namespace {

bytes hex(std::string_view h) { return from_hex(h).value(); }
keypair key(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value(); }

constexpr std::uint64_t expiration = 1700003600;
constexpr std::int64_t before_ms = 1700000000000;

// Produced by js-libp2p (@libp2p/peer-record RecordEnvelope.seal with @libp2p/crypto 5)
// for relay seed 01..01, peer seed 02..02, expiration 1700003600, using the
// circuit-relay-v2 ReservationVoucher codec, domain and payload type.
constexpr const char* js_payload =
    "0a260024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c12260024080112208139770ea87d"
    "175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b3941890fecfaa06";
constexpr const char* js_envelope =
    "0a24080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c120203021a560a26002408011220"
    "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c12260024080112208139770ea87d175f56a35466"
    "c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b3941890fecfaa062a40554a21f93548e6070ed702bb4d9cb0832d7e88e128e688d6"
    "ce391eaaba452b85c1db1a8a330c14d069d55e4791e38c1c2edfee786a1d0958e51874b90ac90e0b";

} // namespace

TEST(signed_envelope, voucher_matches_js_libp2p_byte_for_byte) {
  EXPECT_EQ(to_hex(encode_voucher({key(1).id(), key(2).id(), expiration})), js_payload);
  EXPECT_EQ(to_hex(make_voucher(key(1), key(2).id(), expiration)), js_envelope);
}

TEST(signed_envelope, opens_a_js_voucher) {
  auto v = open_voucher(hex(js_envelope), key(1).id(), before_ms);
  ASSERT_TRUE(v) << v.err().what();
  EXPECT_EQ(v->relay, key(1).id());
  EXPECT_EQ(v->peer, key(2).id());
  EXPECT_EQ(v->expiration, expiration);
}

TEST(signed_envelope, signing_input_is_length_prefixed_domain_type_payload) {
  EXPECT_EQ(to_hex(envelope_signing_input("ab", voucher_payload_type, bytes{9})), "026162020302" "0109");
  EXPECT_EQ(voucher_payload_type, (std::array<std::uint8_t, 2>{0x03, 0x02}));  // not the uvarint 82 06
}

TEST(signed_envelope, seal_and_open_round_trip_with_any_domain) {
  auto e = seal_envelope(key(5), "libp2p-routing-record", bytes{0x03, 0x01}, bytes{1, 2, 3});
  auto o = open_envelope(e, "libp2p-routing-record", bytes{0x03, 0x01});
  ASSERT_TRUE(o) << o.err().what();
  EXPECT_EQ(o->key, key(5).pub());
  EXPECT_EQ(o->payload, (bytes{1, 2, 3}));
  EXPECT_EQ(encode_envelope(*o), e);
}

TEST(signed_envelope, rejects_an_expired_voucher) {
  auto env = hex(js_envelope);
  EXPECT_TRUE(open_voucher(env, key(1).id(), expiration * 1000 - 1));
  auto v = open_voucher(env, key(1).id(), expiration * 1000);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.err().code(), errc::message_expired);
}

TEST(signed_envelope, rejects_a_voucher_from_another_relay) {
  auto v = open_voucher(hex(js_envelope), key(3).id(), before_ms);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.err().code(), errc::wrong_recipient);
}

TEST(signed_envelope, rejects_tampered_signature_and_payload) {
  auto sig = hex(js_envelope);
  sig.back() ^= 1;
  auto a = open_voucher(sig, key(1).id(), before_ms);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.err().code(), errc::bad_signature);
  auto payload = hex(js_envelope);
  payload[payload.size() - 67] ^= 1;  // the last byte of the expiration varint
  auto b = open_voucher(payload, key(1).id(), before_ms);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.err().code(), errc::bad_signature);
}

TEST(signed_envelope, rejects_a_voucher_signed_under_another_domain) {
  auto payload = encode_voucher({key(1).id(), key(2).id(), expiration});
  auto e = seal_envelope(key(1), "libp2p-peer-record", voucher_payload_type, payload);
  auto v = open_voucher(e, key(1).id(), before_ms);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.err().code(), errc::bad_signature);
}

TEST(signed_envelope, rejects_a_voucher_with_another_payload_type) {
  auto payload = encode_voucher({key(1).id(), key(2).id(), expiration});
  auto e = seal_envelope(key(1), voucher_domain, bytes{0x82, 0x06}, payload);  // uvarint(0x0302)
  auto v = open_voucher(e, key(1).id(), before_ms);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.err().code(), errc::bad_frame);
  EXPECT_NE(v.err().message().find("payload type 8206"), std::string::npos) << v.err().message();
}

TEST(signed_envelope, rejects_a_voucher_signed_by_someone_other_than_the_named_relay) {
  auto payload = encode_voucher({key(1).id(), key(2).id(), expiration});
  auto e = seal_envelope(key(4), voucher_domain, voucher_payload_type, payload);
  auto v = open_voucher(e, key(1).id(), before_ms);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.err().code(), errc::bad_signature);
}

TEST(signed_envelope, rejects_non_ed25519_keys_and_missing_fields) {
  bytes rsa_key, e;
  pb::put_varint_field(rsa_key, 1, 0);
  pb::put_bytes_field(rsa_key, 2, bytes(32, 1));
  pb::put_bytes_field(e, 1, rsa_key);
  pb::put_bytes_field(e, 5, bytes(64, 0));
  auto r = decode_envelope(e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::wrong_key_type);

  bytes short_key, e2;
  pb::put_varint_field(short_key, 1, 1);
  pb::put_bytes_field(short_key, 2, bytes(31, 1));
  pb::put_bytes_field(e2, 1, short_key);
  pb::put_bytes_field(e2, 5, bytes(64, 0));
  EXPECT_EQ(decode_envelope(e2).err().code(), errc::wrong_key_length);

  EXPECT_EQ(decode_envelope(hex("120203021a00")).err().code(), errc::bad_frame);  // no key, no signature
  EXPECT_EQ(decode_envelope(hex("0800")).err().code(), errc::bad_frame);          // key as a varint
}

TEST(signed_envelope, rejects_every_truncation) {
  auto env = hex(js_envelope);
  for (std::size_t n = 0; n < env.size(); ++n)
    EXPECT_FALSE(open_voucher(bytes_view(env).first(n), key(1).id(), before_ms)) << n;
}

TEST(signed_envelope, voucher_payload_needs_both_peer_ids) {
  EXPECT_EQ(decode_voucher(hex("1890fecfaa06")).err().code(), errc::bad_frame);
  auto v = decode_voucher(hex(js_payload));
  ASSERT_TRUE(v);
  EXPECT_EQ(encode_voucher(*v), hex(js_payload));
  EXPECT_EQ(decode_voucher(hex("0a0100120100")).err().code(), errc::wrong_multihash);
}
