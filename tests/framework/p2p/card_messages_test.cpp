#include <gtest/gtest.h>

#include "identity/keypair.hpp"
#include "p2p/card_messages.hpp"
#include "p2p/relay_messages.hpp"

using namespace aqua;
using namespace aqua::p2p::cards;

namespace {

bytes hex(std::string_view h) { return from_hex(h).value(); }
peer_id id_of(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value().id(); }

// decode(in) fails with bad_frame (the strict-decoding error), not some other code.
void expect_malformed(const bytes& in, const std::string& why) {
  auto m = decode(in);
  ASSERT_FALSE(m) << why << ": " << to_hex(in) << " decoded";
  EXPECT_EQ(m.err().code(), errc::bad_frame) << why << ": " << m.err().what();
}

} // namespace

TEST(card_messages, protocol_id_is_aqua_card_1_0_0) { EXPECT_EQ(protocol_id, "/aqua/card/1.0.0"); }

TEST(card_messages, encodes_every_type_canonically_with_publish_written_as_08_00) {
  EXPECT_EQ(to_hex(encode(publish(hex("aabb")))), "0800" "1202aabb");
  EXPECT_EQ(to_hex(encode(lookup(id_of(2).to_bytes()))), "0801" "1a26" + to_hex(id_of(2).to_bytes()));
  EXPECT_EQ(to_hex(encode(card_message(hex("aabb")))), "0802" "1202aabb");
  EXPECT_EQ(to_hex(encode(status_message(status::ok))), "0803" "2064");
  EXPECT_EQ(to_hex(encode(status_message(status::not_found, "gone"))), "0803" "20d201" "2a04" "676f6e65");
  // A status of 0 is still written: the field is present.
  EXPECT_EQ(to_hex(encode(status_message(status::unused))), "0803" "2000");
  // A default message is a PUBLISH: its type is on the wire all the same.
  EXPECT_EQ(to_hex(encode(message{})), "0800");
}

TEST(card_messages, every_message_type_round_trips) {
  std::vector<message> all = {publish(bytes(1, 1)),
                              publish(bytes(max_card_size, 7)),
                              lookup(id_of(1).to_bytes()),
                              lookup(bytes(max_peer_size, 3)),
                              card_message(bytes(500, 9)),
                              card_message(bytes(max_card_size, 2)),
                              status_message(status::ok),
                              status_message(status::unused),
                              status_message(status::not_found, "no card for 12D3KooW..."),
                              status_message(status::quota_exceeded, std::string(max_status_text, 'q')),
                              status_message(static_cast<status>(777)),
                              status_message(static_cast<status>(0xffffffffu), "max")};
  for (const auto& m : all) {
    auto enc = encode(m);
    auto back = decode(enc);
    ASSERT_TRUE(back) << to_string(m.type) << ": " << back.err().what();
    EXPECT_EQ(*back, m) << to_string(m.type);
    EXPECT_EQ(encode(*back), enc) << to_string(m.type);
  }
}

TEST(card_messages, names_types_and_statuses) {
  EXPECT_EQ(to_string(message::kind::publish), "PUBLISH");
  EXPECT_EQ(to_string(message::kind::lookup), "LOOKUP");
  EXPECT_EQ(to_string(message::kind::card), "CARD");
  EXPECT_EQ(to_string(message::kind::status), "STATUS");
  EXPECT_EQ(to_string(status::ok), "OK");
  EXPECT_EQ(to_string(status::not_found), "NOT_FOUND");
  EXPECT_EQ(to_string(status::stale_card), "STALE_CARD");
  EXPECT_EQ(to_string(status::malformed_message), "MALFORMED_MESSAGE");
  EXPECT_EQ(to_string(static_cast<status>(777)), "UNKNOWN(777)");
}

TEST(card_messages, status_message_cuts_its_text_to_the_bound) {
  auto m = status_message(status::refused, std::string(max_status_text + 50, 'x'));
  EXPECT_EQ(m.text.size(), max_status_text);
  EXPECT_TRUE(decode(encode(m)));
}

TEST(card_messages, skips_unknown_fields) {
  // LOOKUP of peer abcd, then unknown fields 6 (varint), 7 (bytes), 8 (fixed64), 9 (fixed32), 16 (bytes).
  auto m = decode(hex("0801" "1a02abcd" "3001" "3a02ffff" "410102030405060708" "4d01020304" "820102abcd"));
  ASSERT_TRUE(m) << m.err().what();
  EXPECT_EQ(*m, lookup(hex("abcd")));
  // Unknown fields may come first too.
  auto s = decode(hex("3005" "0803" "2064"));
  ASSERT_TRUE(s) << s.err().what();
  EXPECT_EQ(*s, status_message(status::ok));
}

TEST(card_messages, rejects_a_missing_type_and_unknown_types) {
  expect_malformed(hex(""), "empty");
  expect_malformed(hex("2064"), "STATUS without type");
  expect_malformed(hex("1202aabb"), "a card without type");
  expect_malformed(hex("0804"), "type 4");
  expect_malformed(hex("08ff01" "1202aabb"), "type 255");
  expect_malformed(hex("088080808010" "1202aabb"), "type 2^32 (PUBLISH once cut to 32 bits)");
  auto m = decode(hex("0804"));
  ASSERT_FALSE(m);
  EXPECT_NE(m.err().message().find("type"), std::string::npos) << m.err().what();
}

TEST(card_messages, rejects_wrong_wire_types) {
  expect_malformed(hex("0a0100"), "type as bytes");
  expect_malformed(hex("0800" "1001"), "card as varint");
  expect_malformed(hex("0801" "1801"), "peer as varint");
  expect_malformed(hex("0803" "220164"), "status as bytes");
  expect_malformed(hex("0803" "2064" "2801"), "text as varint");
  expect_malformed(hex("0800" "1502020202"), "card as fixed32");
}

TEST(card_messages, rejects_a_field_that_occurs_twice) {
  expect_malformed(hex("0801" "0801" "1a01aa"), "type twice");
  expect_malformed(hex("0800" "1201aa" "1201bb"), "card twice");
  expect_malformed(hex("0800" "1201aa" "1201aa"), "the same card twice");
  expect_malformed(hex("0801" "1a01aa" "1a01bb"), "peer twice");
  expect_malformed(hex("0803" "2064" "2064"), "status twice");
  expect_malformed(hex("0803" "2064" "2a0161" "2a0162"), "text twice");
  auto m = decode(hex("0803" "2064" "20d201"));
  ASSERT_FALSE(m);
  EXPECT_NE(m.err().message().find("twice"), std::string::npos) << m.err().what();
}

TEST(card_messages, bounds_the_card_the_peer_and_the_status_text) {
  auto big_card = decode(encode(publish(bytes(max_card_size + 1, 1))));
  ASSERT_FALSE(big_card);
  EXPECT_EQ(big_card.err().code(), errc::bad_frame);  // under max_message_size: the per-field bound refuses it
  EXPECT_NE(big_card.err().message().find("card"), std::string::npos) << big_card.err().what();
  expect_malformed(encode(card_message(bytes(max_card_size + 1, 1))), "CARD above max_card_size");
  EXPECT_TRUE(decode(encode(card_message(bytes(max_card_size, 1)))));

  auto big_peer = decode(encode(lookup(bytes(max_peer_size + 1, 1))));
  ASSERT_FALSE(big_peer);
  EXPECT_EQ(big_peer.err().code(), errc::bad_frame);
  EXPECT_NE(big_peer.err().message().find("peer"), std::string::npos) << big_peer.err().what();
  EXPECT_TRUE(decode(encode(lookup(bytes(max_peer_size, 1)))));

  message long_text = status_message(status::refused);
  long_text.text.assign(max_status_text + 1, 'x');  // past what status_message() would build
  expect_malformed(encode(long_text), "text above max_status_text");
  long_text.text.resize(max_status_text);
  EXPECT_TRUE(decode(encode(long_text)));

  expect_malformed(hex("0803" "208080808010"), "status above uint32");
}

TEST(card_messages, enforces_the_per_type_rules) {
  expect_malformed(hex("0800"), "PUBLISH without a card");
  expect_malformed(hex("0800" "1200"), "PUBLISH with an empty card");
  expect_malformed(hex("0800" "1a01aa"), "PUBLISH with a peer but no card");
  expect_malformed(hex("0802"), "CARD without a card");
  expect_malformed(hex("0802" "1200"), "CARD with an empty card");
  expect_malformed(hex("0801"), "LOOKUP without a peer");
  expect_malformed(hex("0801" "1a00"), "LOOKUP with an empty peer");
  expect_malformed(hex("0801" "1201aa"), "LOOKUP with a card but no peer");
  expect_malformed(hex("0803"), "STATUS without a status");
  expect_malformed(hex("0803" "2a02" "6f6b"), "STATUS with text but no status");
  auto m = decode(hex("0801"));
  ASSERT_FALSE(m);
  EXPECT_NE(m.err().message().find("LOOKUP without a peer"), std::string::npos) << m.err().what();
}

TEST(card_messages, rejects_truncated_input_at_every_length) {
  // No prefix of these is a valid message (the one field each type needs comes last).
  for (const auto& whole : {encode(publish(bytes(40, 3))), encode(lookup(id_of(3).to_bytes())),
                            encode(card_message(bytes(300, 4))), encode(status_message(status::bad_card))}) {
    for (std::size_t n = 0; n < whole.size(); ++n) {
      auto m = decode(bytes_view(whole).first(n));
      EXPECT_FALSE(m) << "prefix of " << n << " of " << to_hex(whole) << " decoded";
      if (!m) {
        EXPECT_EQ(m.err().code(), errc::bad_frame);
      }
    }
    EXPECT_TRUE(decode(whole));
  }
  expect_malformed(hex("0800" "12"), "a length prefix cut off");
  expect_malformed(hex("0800" "1205aabb"), "a card shorter than its length");
  expect_malformed(hex("0803" "20d2"), "a varint cut off");
}

TEST(card_messages, frame_prefixes_the_encoding_with_its_length) {
  EXPECT_EQ(to_hex(frame(status_message(status::ok)).value()), "04" "08032064");
  EXPECT_EQ(to_hex(frame(lookup(id_of(2).to_bytes())).value()), "2a" "0801" "1a26" + to_hex(id_of(2).to_bytes()));
  auto big = frame(card_message(bytes(max_card_size, 5))).value();  // 32774-byte body: a 3-byte prefix
  auto body = encode(card_message(bytes(max_card_size, 5)));
  ASSERT_EQ(body.size(), 2 + 1 + 3 + max_card_size);
  EXPECT_EQ(to_hex(bytes(big.begin(), big.begin() + 3)), "868002");
  EXPECT_EQ(bytes(big.begin() + 3, big.end()), body);
  // The reader takes the frames back apart.
  aqua::p2p::relay::delimited_reader r(max_message_size);
  r.feed(big);
  r.feed(frame(publish(hex("01"))).value());
  auto first = r.next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(decode(**first).value(), card_message(bytes(max_card_size, 5)));
  auto second = r.next();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(decode(**second).value(), publish(hex("01")));
}

TEST(card_messages, refuses_oversized_messages_in_decode_frame_and_the_reader) {
  auto d = decode(bytes(max_message_size + 1, 0));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.err().code(), errc::frame_too_large);
  auto f = frame(publish(bytes(max_message_size, 1)));
  ASSERT_FALSE(f);
  EXPECT_EQ(f.err().code(), errc::frame_too_large);
  // Exactly max_message_size is decoded (and then judged by its fields).
  auto at_bound = decode(bytes(max_message_size, 0));
  ASSERT_FALSE(at_bound);
  EXPECT_EQ(at_bound.err().code(), errc::bad_frame);
  aqua::p2p::relay::delimited_reader r(max_message_size);
  bytes prefix;
  auto len = max_message_size + 1;
  while (len >= 0x80) prefix.push_back(static_cast<std::uint8_t>(len | 0x80)), len >>= 7;
  prefix.push_back(static_cast<std::uint8_t>(len));
  r.feed(prefix);
  auto n = r.next();
  ASSERT_FALSE(n);
  EXPECT_EQ(n.err().code(), errc::frame_too_large);
}

TEST(card_messages, statuses_map_to_the_errors_a_client_reports) {
  EXPECT_EQ(to_error(status::refused, "").code(), errc::not_supported);
  EXPECT_EQ(to_error(status::quota_exceeded, "").code(), errc::quota_exceeded);
  EXPECT_EQ(to_error(status::not_found, "").code(), errc::not_found);
  EXPECT_EQ(to_error(status::bad_card, "").code(), errc::bad_card);
  EXPECT_EQ(to_error(status::stale_card, "").code(), errc::conflict);
  EXPECT_EQ(to_error(status::malformed_message, "").code(), errc::bad_frame);
  EXPECT_EQ(to_error(status::unexpected_message, "").code(), errc::bad_frame);
  EXPECT_EQ(to_error(status::internal_error, "").code(), errc::io_error);
  EXPECT_EQ(to_error(static_cast<status>(777), "").code(), errc::connection_refused);
  auto e = to_error(status::not_found, "no card for bob");
  EXPECT_NE(e.message().find("NOT_FOUND: no card for bob"), std::string::npos) << e.message();
  EXPECT_EQ(to_error(status::not_found, "").message(), "card directory: NOT_FOUND");
}

TEST(card_messages, a_relays_status_text_cannot_put_control_bytes_into_a_log_line) {
  auto e = to_error(status::refused, "busy\n[2026-11-27 07:00:00.000] [error] forged\x1b[2J");
  EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find('\x1b'), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("busy\\n[2026"), std::string::npos) << e.message();
}
