#include <gtest/gtest.h>

#include "delivery/dedup.hpp"
#include "delivery/outbox.hpp"

using namespace aqua;
using namespace aqua::delivery;

namespace {
const std::string peer_a = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";  // rec()'s recipient unless given

out_record rec(const std::string& id, std::int64_t created, std::int64_t ttl, const std::string& recipient = peer_a) {
  out_record r;
  r.message_id = id;
  r.recipient = recipient;
  r.envelope = {1, 2, 3};
  r.created_ms = created;
  r.expires_ms = created + ttl;
  return r;
}
} // namespace

TEST(outbox, new_messages_are_due_at_once_in_send_order) {
  outbox ob;
  ob.add(rec("b", 10, 1000));
  ob.add(rec("a", 20, 1000));
  EXPECT_EQ(ob.due(5), std::vector<std::string>{});
  EXPECT_EQ(ob.due(20), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(ob.pending(), 2u);
}

TEST(outbox, only_due_messages_are_returned_in_send_order) {
  outbox ob;
  for (auto id : {"m1", "m2", "m3"}) ob.add(rec(id, 0, 100000));
  ob.transmitted("m1", 0, 0.5);  // next attempt 500
  ob.transmitted("m2", 0, 0.9);  // next attempt 580
  ob.transmitted("m3", 0, 0.5);  // next attempt 500
  EXPECT_TRUE(ob.due(499).empty());
  EXPECT_EQ(ob.due(500), (std::vector<std::string>{"m1", "m3"}));  // m2 is not due: no retransmit storm
  EXPECT_EQ(ob.due(580), (std::vector<std::string>{"m1", "m2", "m3"}));
}

TEST(outbox, retries_back_off_exponentially_with_bounded_jitter_and_a_cap) {
  outbox ob({500, 8000, 2.0, 0.2});
  EXPECT_EQ(ob.backoff_ms(1, 0.5), 500);
  EXPECT_EQ(ob.backoff_ms(2, 0.5), 1000);
  EXPECT_EQ(ob.backoff_ms(3, 0.5), 2000);
  EXPECT_EQ(ob.backoff_ms(10, 0.5), 8000);
  EXPECT_EQ(ob.backoff_ms(1, 0.0), 400);
  EXPECT_EQ(ob.backoff_ms(1, 0.999999), 599);
  ob.add(rec("a", 0, 100000));
  auto* r = ob.transmitted("a", 0, 0.5);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, out_state::sent);
  EXPECT_EQ(r->next_attempt_ms, 500);
  EXPECT_TRUE(ob.due(499).empty());
  EXPECT_EQ(ob.due(500), std::vector<std::string>{"a"});
  r = ob.transmitted("a", 500, 0.5);
  EXPECT_EQ(r->next_attempt_ms, 1500);
  EXPECT_EQ(r->attempts, 2u);
  EXPECT_EQ(*ob.next_wakeup(), 1500);
}

TEST(outbox, a_recipient_that_connects_gets_its_failed_messages_at_once_and_its_in_flight_ones_keep_their_schedule) {
  outbox ob;
  for (auto id : {"f1", "f2", "fly"}) ob.add(rec(id, 0, 100000));
  ob.add(rec("o", 0, 100000, "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"));
  for (int i = 0; i < 5; ++i) {  // five failed attempts each: the next one is 8 s away
    ob.transmitted("f1", i * 100, 0.5, "connection_refused: cannot reach it");
    ob.transmitted("f2", i * 100, 0.5, "connection_refused: cannot reach it");
    ob.transmitted("o", i * 100, 0.5, "connection_refused: cannot reach it");
  }
  ob.transmitted("fly", 900, 0.5);  // got through: waiting for its ack (next attempt at 1400)
  EXPECT_TRUE(ob.due(1000).empty());
  EXPECT_EQ(ob.hasten(peer_a, 1000), 2u);
  EXPECT_EQ(ob.due(1000), (std::vector<std::string>{"f1", "f2"}));  // not "fly" (in flight), not "o" (another peer)
  EXPECT_EQ(ob.find("fly")->next_attempt_ms, 1400);
  EXPECT_EQ(ob.hasten(peer_a, 1000), 0u);  // already due
  EXPECT_EQ(ob.hasten("12D3KooWUnknown", 1000), 0u);
  ob.acked("f1", 1001);
  EXPECT_EQ(ob.hasten(peer_a, 1002), 0u);  // delivered ones are not pending
}

TEST(outbox, ack_delivers_once_and_stops_retries) {
  outbox ob;
  ob.add(rec("a", 0, 100000));
  ob.transmitted("a", 0, 0.5);
  auto* r = ob.acked("a", 42);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, out_state::delivered);
  EXPECT_EQ(ob.acked("a", 99)->delivered_ms, 42);  // duplicate acks change nothing
  EXPECT_TRUE(ob.due(1000000).empty());
  EXPECT_EQ(ob.transmitted("a", 50, 0.5)->state, out_state::delivered);
  EXPECT_EQ(ob.acked("unknown", 1), nullptr);
  EXPECT_EQ(ob.pending(), 0u);
}

TEST(outbox, unacked_messages_expire_at_their_ttl) {
  outbox ob;
  ob.add(rec("a", 0, 1000));
  ob.add(rec("b", 0, 5000));
  ob.transmitted("a", 0, 0.5);
  EXPECT_TRUE(ob.expire(999).empty());
  EXPECT_EQ(ob.expire(1000), std::vector<std::string>{"a"});
  EXPECT_EQ(ob.find("a")->state, out_state::expired);
  EXPECT_EQ(ob.find("a")->last_error.rfind("expired before ", 0), 0u) << ob.find("a")->last_error;
  EXPECT_EQ(ob.due(2000), std::vector<std::string>{"b"});
  ob.forget_finished();
  EXPECT_EQ(ob.find("a"), nullptr);
}

TEST(outbox, forgets_delivered_and_expired_records_but_keeps_pending_ones) {
  outbox ob;
  for (auto id : {"a", "b", "c", "d"}) ob.add(rec(id, 0, 1000));
  ob.acked("a", 5);
  ob.acked("a", 6);  // a repeated ack changes nothing
  EXPECT_EQ(ob.expire(1000).size(), 3u);  // b, c, d
  ob.add(rec("c", 0, 9000));             // c queued again (e.g. re-read from the store)
  ob.forget_finished();
  EXPECT_EQ(ob.find("a"), nullptr);
  EXPECT_EQ(ob.find("b"), nullptr);
  ASSERT_NE(ob.find("c"), nullptr);
  EXPECT_EQ(ob.find("c")->state, out_state::queued);
  EXPECT_EQ(ob.pending(), 1u);
  ob.forget_finished();  // nothing finished since: nothing changes
  EXPECT_NE(ob.find("c"), nullptr);
}

TEST(outbox, records_round_trip_and_bad_bytes_are_errors) {
  auto r = rec("00ff", 7, 9);
  r.attempts = 3;
  r.state = out_state::sent;
  auto enc = r.encode();
  auto back = out_record::decode(enc);
  ASSERT_TRUE(back) << back.err().what();
  EXPECT_EQ(back->encode(), enc);
  EXPECT_EQ(back->attempts, 3u);
  for (std::size_t n = 0; n < enc.size(); ++n) EXPECT_FALSE(out_record::decode(bytes_view(enc.data(), n))) << n;
  auto v = enc;
  v[0] = 5;
  EXPECT_EQ(out_record::decode(v).err().code(), errc::unknown_version);
}

TEST(outbox, records_with_a_content_digest_keep_it_in_every_layout) {
  const std::string id = "0123456789abcdef0123456789abcdef";
  const auto digest = content_digest(id, bytes{1, 2, 3});
  EXPECT_NE(digest, content_digest(id, bytes{1, 2, 4}));
  EXPECT_NE(digest, content_digest("0123456789abcdef0123456789abcdee", bytes{1, 2, 3}));  // keyed by the id
  auto check = [&](const out_record& r, std::uint8_t flags) {
    auto enc = r.encode();
    EXPECT_EQ(enc[0], 4);
    auto back = out_record::decode(enc);
    ASSERT_TRUE(back) << back.err().what();
    ASSERT_TRUE(back->content);
    EXPECT_EQ(*back->content, digest);
    EXPECT_EQ(back->inner, r.inner);
    EXPECT_EQ(back->last_error, r.last_error);
    EXPECT_EQ(back->encode(), enc);
    for (std::size_t n = 0; n < enc.size(); ++n) EXPECT_FALSE(out_record::decode(bytes_view(enc.data(), n))) << n;
    // The flags byte: just before the optional fields; unknown bits, or no digest flag, are malformed.
    const auto at = enc.size() - 16 - (r.inner.empty() ? 0 : 4 + r.inner.size()) -
                    (r.last_error.empty() ? 0 : 2 + r.last_error.size()) - 1;
    EXPECT_EQ(enc[at], flags);
    for (std::uint8_t bad : {std::uint8_t(flags | 8), std::uint8_t(flags & ~4), std::uint8_t(0x80 | flags)}) {
      auto b = enc;
      b[at] = bad;
      EXPECT_FALSE(out_record::decode(b)) << int(bad);
    }
    auto finished = out_record::decode(r.encode(false));  // no envelope, no inner frame: the digest stays
    ASSERT_TRUE(finished);
    EXPECT_EQ(finished->content, r.content);
  };
  auto r = rec(id, 7, 9);
  r.content = digest;
  check(r, 4);
  r.last_error = "timeout";
  check(r, 2 | 4);
  r.last_error.clear();
  r.envelope.clear();
  r.inner = bytes{1, 2, 3};
  check(r, 1 | 4);
  // Without a digest (a record written before digests were kept, rewritten): the old layouts.
  r.content.reset();
  EXPECT_EQ(r.encode()[0], 2);
}

TEST(outbox, the_last_attempts_error_is_kept_with_the_record_until_an_attempt_gets_through) {
  outbox ob;
  ob.add(rec("aa", 0, 100000));
  EXPECT_EQ(ob.find("aa")->encode()[0], 1);  // no error: the layout older builds read
  ob.transmitted("aa", 0, 0.5, "connection_refused: cannot reach 12D3KooW...");
  const auto* r = ob.find("aa");
  EXPECT_EQ(r->last_error, "connection_refused: cannot reach 12D3KooW...");
  auto enc = r->encode();
  EXPECT_EQ(enc[0], 3);
  auto back = out_record::decode(enc);
  ASSERT_TRUE(back) << back.err().what();
  EXPECT_EQ(back->last_error, r->last_error);
  EXPECT_EQ(back->encode(), enc);
  for (std::size_t n = 0; n < enc.size(); ++n) EXPECT_FALSE(out_record::decode(bytes_view(enc.data(), n))) << n;
  // A finished record written without its envelope keeps the error (an expired message tells why).
  auto finished = out_record::decode(r->encode(false));
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->last_error, r->last_error);
  EXPECT_TRUE(finished->envelope.empty());
  // The next attempt got through: no error, and the old layout again.
  ob.transmitted("aa", 500, 0.5);
  EXPECT_EQ(ob.find("aa")->last_error, "");
  EXPECT_EQ(ob.find("aa")->encode()[0], 1);
  ob.transmitted("aa", 1000, 0.5, "timeout");
  ob.acked("aa", 1200);  // delivered: whatever failed before does not matter
  EXPECT_EQ(ob.find("aa")->last_error, "");
  // Given up with a reason.
  ob.add(rec("bb", 0, 100000));
  EXPECT_TRUE(ob.give_up("bb", "given up: it could not be sealed: blocked"));
  EXPECT_EQ(ob.find("bb")->last_error, "given up: it could not be sealed: blocked");
}

TEST(outbox, last_errors_are_clipped_to_valid_utf8_and_bad_ones_in_a_record_are_refused) {
  outbox ob;
  ob.add(rec("aa", 0, 100000));
  // Long: cut at max_last_error bytes, never inside a UTF-8 sequence; invalid bytes and controls become '?'.
  const auto max = out_record::max_last_error;
  std::string why(max - 2, 'x');
  why += "\xc3\xa9\xc3\xa9";  // two 2-byte sequences: only the first fits
  ob.transmitted("aa", 0, 0.5, why);
  EXPECT_EQ(ob.find("aa")->last_error, std::string(max - 2, 'x') + "\xc3\xa9");
  ob.transmitted("aa", 0, 0.5, "bad \xff\xfe byte\n\x1b[2J");
  EXPECT_EQ(ob.find("aa")->last_error, "bad ?? byte??[2J");
  // In a stored record: an empty or invalid error is malformed, not shown.
  auto enc = ob.find("aa")->encode();
  auto bad = enc;
  bad[bad.size() - 3] = 0xff;  // a byte inside the error text
  EXPECT_FALSE(out_record::decode(bad));
  auto r = rec("cc", 0, 1);
  r.last_error = "x";
  auto one = r.encode();
  one[one.size() - 1] = 0x00;  // a control character
  EXPECT_FALSE(out_record::decode(one));
  one.pop_back();
  one[one.size() - 1] = 0;     // length 0
  EXPECT_FALSE(out_record::decode(one));
}

TEST(outbox, unsealed_records_keep_their_inner_frame_until_sealed) {
  auto r = rec("00ff", 7, 9);
  r.envelope.clear();
  r.inner = bytes{1, 2, 3};
  auto enc = r.encode();
  EXPECT_EQ(enc[0], 2);  // the unsealed layout
  auto back = out_record::decode(enc);
  ASSERT_TRUE(back) << back.err().what();
  EXPECT_FALSE(back->sealed());
  EXPECT_EQ(back->inner, (bytes{1, 2, 3}));
  EXPECT_EQ(back->encode(), enc);
  for (std::size_t n = 0; n < enc.size(); ++n) EXPECT_FALSE(out_record::decode(bytes_view(enc.data(), n))) << n;
  EXPECT_EQ(r.encode(false)[0], 1);  // a finished record keeps neither
  outbox ob;
  ob.add(r);
  EXPECT_EQ(ob.pending_for(r.recipient), 1u);
  ob.set_sealed("00ff", bytes{9, 9});
  EXPECT_TRUE(ob.find("00ff")->sealed());
  EXPECT_EQ(ob.find("00ff")->encode()[0], 1);
  EXPECT_EQ(ob.find("00ff")->envelope, (bytes{9, 9}));
}

TEST(dedup, duplicates_are_detected_within_the_window) {
  dedup_window w({3, 1000});
  EXPECT_TRUE(w.first_time("s", "a", 0));
  EXPECT_FALSE(w.first_time("s", "a", 1));
  EXPECT_TRUE(w.first_time("s", "b", 2));
  EXPECT_TRUE(w.first_time("s", "c", 3));
  EXPECT_TRUE(w.first_time("s", "d", 4));
  auto ids = [](const std::deque<dedup_entry>& es) {
    std::deque<std::string> out;
    for (auto& e : es) out.push_back(e.sender + "/" + e.message_id);
    return out;
  };
  auto gone = w.prune(4);  // count bound
  EXPECT_EQ(ids(gone), std::deque<std::string>{"s/a"});
  EXPECT_FALSE(w.contains("s", "a"));
  gone = w.prune(1003);  // age bound
  EXPECT_EQ(ids(gone), (std::deque<std::string>{"s/b"}));
  EXPECT_EQ(w.size(), 2u);
}

// Message IDs are the senders' choice: one ID from two senders is two messages, and a
// sender's retry is still a duplicate. Forgetting or pruning one sender's entry leaves the other's.
TEST(dedup, the_same_id_from_two_senders_is_two_messages) {
  dedup_window w({3, 1000});
  EXPECT_TRUE(w.first_time("alice", "01", 0));
  EXPECT_TRUE(w.first_time("carol", "01", 1));
  EXPECT_FALSE(w.first_time("alice", "01", 2));
  EXPECT_FALSE(w.first_time("carol", "01", 2));
  EXPECT_TRUE(w.contains("alice", "01"));
  EXPECT_FALSE(w.contains("mallory", "01"));
  EXPECT_EQ(w.size(), 2u);
  w.forget("carol", "01");
  EXPECT_TRUE(w.contains("alice", "01"));
  EXPECT_FALSE(w.contains("carol", "01"));
  EXPECT_TRUE(w.first_time("carol", "01", 5));
  auto gone = w.prune(1001);  // alice's entry is older than the age bound, carol's is not
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].sender, "alice");
  EXPECT_EQ(gone[0].message_id, "01");
  EXPECT_TRUE(w.contains("carol", "01"));
  // A sender and an id that only concatenate alike are still different keys.
  EXPECT_TRUE(w.first_time("b", "a", 6));
  EXPECT_TRUE(w.first_time("", "ab", 6));
  EXPECT_TRUE(w.first_time("ab", "", 6));
}

TEST(outbox, a_recipients_window_bounds_what_is_in_flight) {
  outbox ob;
  for (int i = 0; i < 5; ++i) ob.add(rec("a" + std::to_string(i), 0, 100000));
  ob.add(rec("b0", 0, 100000, "someone else"));
  EXPECT_EQ(ob.due(0, 2), (std::vector<std::string>{"a0", "a1", "b0"}));
  ob.acked("a0", 1);
  EXPECT_EQ(ob.due(1, 2), (std::vector<std::string>{"a1", "a2", "b0"}));
  EXPECT_EQ(ob.due(1).size(), 5u);  // 0 = unlimited
}

TEST(outbox, the_timer_ignores_messages_waiting_outside_the_window) {
  outbox ob;
  for (int i = 0; i < 3; ++i) ob.add(rec("a" + std::to_string(i), 0, 100000));
  ob.transmitted("a0", 0, 0.5);  // in flight, next attempt at 500
  EXPECT_EQ(*ob.next_wakeup(1), 500);   // a1, a2 wait for the window, not for a timer
  EXPECT_EQ(*ob.next_wakeup(), 0);      // without a window they are due now
}

TEST(outbox, within_window_admits_only_a_recipients_oldest_pending_messages) {
  outbox ob;
  for (auto id : {"a1", "a2", "a3"}) ob.add(rec(id, 0, 100000));
  ob.add(rec("b1", 0, 100000, "12D3KooWOther"));
  EXPECT_TRUE(ob.within_window("a2", 2));
  EXPECT_FALSE(ob.within_window("a3", 2));  // two older ones of the same recipient are pending
  EXPECT_TRUE(ob.within_window("b1", 1));   // another recipient has its own window
  EXPECT_TRUE(ob.within_window("a3", 0));   // 0 = unlimited
  ob.acked("a1", 5);
  EXPECT_TRUE(ob.within_window("a3", 2));   // the ack moved the window
  EXPECT_FALSE(ob.within_window("a1", 2));  // delivered: not in flight any more
  EXPECT_FALSE(ob.within_window("unknown", 2));
}

TEST(outbox, reserved_sequence_numbers_are_kept_and_never_reused) {
  outbox ob;
  auto r = rec("x", 0, 1000);
  r.seq = ob.reserve_seq();
  EXPECT_EQ(r.seq, 1u);
  ob.add(r);
  EXPECT_EQ(ob.find("x")->seq, 1u);
  ob.add(rec("y", 0, 1000));  // no seq: the next free one
  EXPECT_EQ(ob.find("y")->seq, 2u);
  EXPECT_EQ(ob.reserve_seq(), 3u);
}

TEST(outbox, finished_records_encode_without_the_envelope) {
  auto r = rec("00ff", 7, 9);
  r.state = out_state::delivered;
  auto slim = out_record::decode(r.encode(false));
  ASSERT_TRUE(slim) << slim.err().what();
  EXPECT_TRUE(slim->envelope.empty());
  EXPECT_EQ(slim->state, out_state::delivered);
  EXPECT_EQ(slim->message_id, "00ff");
  EXPECT_EQ(r.encode(false).size() + 3, r.encode().size());
}

TEST(outbox, the_window_tells_records_with_the_same_sequence_apart) {
  // Stores written by earlier builds kept seq 0 until the first attempt; loading one can give a record a sequence number
  // another record already holds.
  outbox ob;
  auto a = rec("a", 0, 100000), b = rec("b", 0, 100000);
  a.seq = b.seq = 5;
  ob.add(a);
  ob.add(b);
  EXPECT_TRUE(ob.within_window("a", 1));
  EXPECT_FALSE(ob.within_window("b", 1));
  EXPECT_EQ(ob.due(0, 1), std::vector<std::string>{"a"});
}
