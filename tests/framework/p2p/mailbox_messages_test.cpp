#include <gtest/gtest.h>

#include "identity/keypair.hpp"
#include "p2p/mailbox_messages.hpp"
#include "p2p/relay_messages.hpp"

using namespace aqua;
using namespace aqua::p2p::mailbox;

namespace {

bytes hex(std::string_view h) { return from_hex(h).value(); }
peer_id id_of(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value().id(); }

} // namespace

// The example bytes of docs/protocol/mailbox.md.
TEST(mailbox_messages, encodes_the_spec_examples_byte_for_byte) {
  EXPECT_EQ(to_hex(encode(fetch())), "0802");
  EXPECT_EQ(to_hex(encode(status_message(status::ok))), "08012864");
  EXPECT_EQ(to_hex(encode(status_message(status::quota_exceeded, "full"))), "080128c9013204" "66756c6c");
  EXPECT_EQ(to_hex(encode(ack({1, 2, 300}))), "0804420401" "02ac02");
  EXPECT_EQ(to_hex(encode(mail({{7, hex("0102"), {}}}))), "08033a06" "0807" "12020102");
  EXPECT_EQ(to_hex(frame(mail({{7, hex("0102"), id_of(2).to_bytes()}})).value()),
            "32" "0803" "3a2e" "0807" "12020102" "1a26" + to_hex(id_of(2).to_bytes()));
  auto d = encode(deposit(id_of(2).to_bytes(), hex("aabb"), 3600));
  EXPECT_EQ(to_hex(d), "0800" "1226" + to_hex(id_of(2).to_bytes()) + "1a02aabb" "20901c");
  EXPECT_EQ(to_hex(frame(fetch()).value()), "020802");
  EXPECT_EQ(to_hex(frame(deposit(id_of(2).to_bytes(), hex("aabb"), 3600)).value()).substr(0, 2), "31");
  EXPECT_EQ(to_hex(frame(status_message(status::quota_exceeded, "full")).value()).substr(0, 2), "0b");
}

TEST(mailbox_messages, every_message_type_round_trips) {
  std::vector<message> all = {deposit(id_of(1).to_bytes(), bytes(1000, 7), 0),
                              deposit(id_of(2).to_bytes(), bytes{1}, 86400),
                              status_message(status::too_large, "envelope of 5000000 bytes"),
                              status_message(static_cast<status>(777)),
                              fetch(),
                              mail({{1, bytes(10, 1), {}}, {1ull << 40, bytes(300, 2), {}}}),
                              mail({{3, bytes(5, 1), id_of(3).to_bytes()}, {4, bytes(7, 2), {}}}),
                              ack({1, 1ull << 63, 5})};
  for (const auto& m : all) {
    auto enc = encode(m);
    auto back = decode(enc);
    ASSERT_TRUE(back) << back.err().what();
    EXPECT_EQ(*back, m);
    EXPECT_EQ(encode(*back), enc);
  }
  EXPECT_EQ(to_string(static_cast<status>(777)), "UNKNOWN(777)");
}

TEST(mailbox_messages, accepts_unpacked_ack_ids_and_skips_unknown_fields) {
  // type ACK, ids 5 and 6 as separate varint fields, unknown field 15 (varint) and 16 (bytes).
  auto m = decode(hex("0804" "4005" "4006" "7801" "820102abcd"));
  ASSERT_TRUE(m) << m.err().what();
  EXPECT_EQ(m->ids, (std::vector<std::uint64_t>{5, 6}));
}

TEST(mailbox_messages, mail_item_overhead_is_the_encoded_size_of_an_item) {
  for (std::size_t n : {1u, 127u, 128u, 70000u})
    for (bytes dep : {bytes{}, id_of(4).to_bytes()}) {
      const std::uint64_t id = 1ull << 63;  // a 10-byte varint: the longest id, which the overhead allows for
      auto m = encode(mail({{id, bytes(n, 9), dep}}));
      EXPECT_EQ(m.size(), 2 + mail_item_overhead(n, dep.size()) + n) << n << " " << dep.size();
    }
}

TEST(mailbox_messages, rejects_a_depositor_twice_too_long_or_of_the_wrong_wire_type) {
  EXPECT_FALSE(decode(hex("08033a0a" "0807" "12020102" "1a0101" "1a0102")));  // twice
  EXPECT_FALSE(decode(hex("08033a08" "0807" "12020102" "1801")));             // varint, not bytes
  mail_item big{7, bytes{1}, bytes(max_depositor + 1, 5)};
  auto too_long = decode(encode(mail({big})));
  ASSERT_FALSE(too_long);
  EXPECT_NE(too_long.err().message().find("depositor"), std::string::npos) << too_long.err().what();
  big.depositor.resize(max_depositor);
  EXPECT_TRUE(decode(encode(mail({big}))));
}

TEST(mailbox_messages, rejects_truncated_input_at_every_length) {
  auto full = encode(mail({{9, bytes(40, 3), {}}}));  // one field: no prefix ends on a field boundary
  for (std::size_t n = 1; n < full.size(); ++n) {
    auto m = decode(bytes_view(full).first(n));
    EXPECT_FALSE(m) << "prefix of " << n << " bytes decoded";
    if (!m) {
      EXPECT_EQ(m.err().code(), errc::bad_frame);
    }
  }
}

TEST(mailbox_messages, rejects_duplicate_singular_fields) {
  auto twice_type = decode(hex("08020802"));
  ASSERT_FALSE(twice_type);
  EXPECT_EQ(twice_type.err().code(), errc::bad_frame);
  // DEPOSIT with two envelopes
  auto d = encode(deposit(id_of(1).to_bytes(), hex("aa"), 1));
  d.insert(d.end(), {0x1a, 0x01, 0xbb});
  EXPECT_FALSE(decode(d));
  // Mail with two ids
  EXPECT_FALSE(decode(hex("08033a0708070808" "120101")));
  // status twice
  EXPECT_FALSE(decode(hex("080128642864")));
}

TEST(mailbox_messages, rejects_missing_type_unknown_type_and_wrong_wire_types) {
  EXPECT_FALSE(decode(hex("")));
  EXPECT_FALSE(decode(hex("2864")));      // STATUS without type
  EXPECT_FALSE(decode(hex("0805")));      // type 5
  EXPECT_FALSE(decode(hex("0a0100")));    // type as bytes
  EXPECT_FALSE(decode(hex("08001001")));  // recipient as varint
  EXPECT_FALSE(decode(hex("08012a0164")));  // status as bytes
}

TEST(mailbox_messages, enforces_the_per_type_rules) {
  EXPECT_FALSE(decode(encode(deposit({}, hex("aa"), 0))));           // no recipient
  EXPECT_FALSE(decode(encode(deposit(id_of(1).to_bytes(), {}, 0))));  // no envelope
  EXPECT_FALSE(decode(hex("0801")));                                  // STATUS without status
  EXPECT_FALSE(decode(hex("0803")));                                  // MAIL without items
  EXPECT_FALSE(decode(hex("08033a02" "0807")));                       // Mail without envelope
  EXPECT_FALSE(decode(hex("08033a04" "12020102")));                   // Mail without id
  EXPECT_FALSE(decode(hex("0804")));                                  // ACK without ids
  EXPECT_FALSE(decode(hex("0804420100")));                            // ACK of id 0
  std::vector<mail_item> many(max_mail_per_message + 1, mail_item{1, bytes{1}, {}});
  EXPECT_FALSE(decode(encode(mail(many))));
  std::vector<std::uint64_t> ids(max_ack_ids + 1, 1);
  EXPECT_FALSE(decode(encode(ack(ids))));
  EXPECT_TRUE(decode(encode(ack(std::vector<std::uint64_t>(max_ack_ids, 1)))));
  message long_text = status_message(status::refused);
  long_text.text.assign(max_status_text + 1, 'x');
  EXPECT_FALSE(decode(encode(long_text)));
}

TEST(mailbox_messages, refuses_oversized_messages_in_decode_frame_and_the_reader) {
  auto big = deposit(id_of(1).to_bytes(), bytes(max_message_size, 1), 0);
  auto f = frame(big);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.err().code(), errc::frame_too_large);
  auto d = decode(bytes(max_message_size + 1, 0));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.err().code(), errc::frame_too_large);
  // A maximal envelope fits in one message.
  EXPECT_TRUE(frame(deposit(id_of(1).to_bytes(), bytes(max_envelope_size, 1), 0)));
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

TEST(mailbox_messages, statuses_map_to_the_errors_a_depositor_reports) {
  EXPECT_TRUE(to_result(status::ok, ""));
  EXPECT_EQ(to_result(status::quota_exceeded, "x").err().code(), errc::quota_exceeded);
  EXPECT_EQ(to_result(status::too_large, "").err().code(), errc::frame_too_large);
  EXPECT_EQ(to_result(status::refused, "").err().code(), errc::not_supported);
  EXPECT_EQ(to_result(status::expired, "").err().code(), errc::message_expired);
  EXPECT_EQ(to_result(status::bad_envelope, "").err().code(), errc::bad_envelope);
  EXPECT_EQ(to_result(status::internal_error, "").err().code(), errc::io_error);
  EXPECT_NE(to_result(status::quota_exceeded, "17 messages").err().message().find("QUOTA_EXCEEDED: 17 messages"),
            std::string::npos);
}

TEST(mailbox_messages, a_relays_status_text_cannot_put_control_bytes_into_a_log_line) {
  // A hostile relay's STATUS text ends up in log lines and in doctor/outbox errors: a newline forged a whole
  // "[error]" log line and an ESC drove the operator's terminal.
  auto e = to_result(status::refused, "busy\n[2026-11-27 07:00:00.000] [error] forged\x1b[2J").err();
  EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find('\x1b'), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("busy\\n[2026"), std::string::npos) << e.message();
}
