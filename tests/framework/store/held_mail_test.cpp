#include <gtest/gtest.h>

#include <leveldb/write_batch.h>

#include <cstdio>
#include <future>

#include "identity/keypair.hpp"
#include "store/held_mail.hpp"
#include "support/fake_envelope.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;
using namespace aqua::store;

namespace {

constexpr std::int64_t t0 = 1700000000000;
constexpr std::int64_t day_ms = 86400000;

peer_id id_of(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value().id(); }

struct fixture {
  test::temp_dir tmp{"held"};
  std::shared_ptr<db> store;
  std::unique_ptr<held_mail> mail;

  explicit fixture(held_mail_limits limits = {}) { reopen(limits); }
  void reopen(held_mail_limits limits = {}) {
    mail.reset();
    store.reset();
    store = std::shared_ptr<db>(db::open(tmp.path() / "s").value().release());
    auto m = held_mail::open(store, limits);
    EXPECT_TRUE(m) << m.err().what();
    mail = std::move(*m);
  }
  // put and wait for `done` (bounded).
  result<put_outcome> put(const peer_id& to, const bytes& env, std::uint32_t ttl_s = 0, std::int64_t now = t0,
                          const peer_id& from = id_of(1)) {
    auto p = std::make_shared<std::promise<result<put_outcome>>>();
    auto f = p->get_future();
    mail->put(to, env, ttl_s, now, from, [p](result<put_outcome> r) { p->set_value(std::move(r)); });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
      return error{errc::timeout, "put did not complete"};
    return f.get();
  }
  result<void> ack(const peer_id& who, std::vector<std::uint64_t> ids) {
    auto p = std::make_shared<std::promise<result<void>>>();
    auto f = p->get_future();
    auto n = mail->ack(who, ids, [p](result<void> r) { p->set_value(std::move(r)); });
    if (!n) return n.err();
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return error{errc::timeout, "ack"};
    return f.get();
  }
  std::size_t expire(std::int64_t now) {
    auto p = std::make_shared<std::promise<void>>();
    auto f = p->get_future();
    auto n = mail->expire(now, 1024, [p](result<void>) { p->set_value(); });
    EXPECT_TRUE(n);
    EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return n ? *n : 0;
  }
  std::vector<held_envelope> list(const peer_id& who, std::uint64_t after = 0) {
    return mail->list(who, after, 1000, 1u << 30).value();
  }
  std::size_t keys_under_m() {
    std::size_t n = 0;
    EXPECT_TRUE(store->scan("m/", [&](std::string_view k, std::string_view) {
      if (k != "m/seq") ++n;
      return true;
    }));
    return n;
  }
};

} // namespace

TEST(held_mail, held_mail_survives_reopen_in_deposit_order) {
  fixture fx;
  const auto bob = id_of(2);
  const auto e1 = test::fake_envelope(bob, 1, t0 + day_ms), e2 = test::fake_envelope(bob, 2, t0 + day_ms);
  ASSERT_EQ(fx.put(bob, e1).value(), put_outcome::stored);
  ASSERT_EQ(fx.put(bob, e2).value(), put_outcome::stored);
  fx.reopen();
  auto held = fx.list(bob);
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].envelope, e1);
  EXPECT_EQ(held[1].envelope, e2);
  EXPECT_LT(held[0].id, held[1].id);
  EXPECT_EQ(fx.mail->stats().messages, 2u);
  EXPECT_EQ(fx.mail->stats().bytes, e1.size() + e2.size());
  // ids are not reused after a restart, even once everything is gone
  ASSERT_TRUE(fx.ack(bob, {held[0].id, held[1].id}));
  fx.reopen();
  ASSERT_EQ(fx.put(bob, test::fake_envelope(bob, 3, t0 + day_ms)).value(), put_outcome::stored);
  EXPECT_GT(fx.list(bob).at(0).id, held[1].id);
}

TEST(held_mail, records_who_deposited_each_envelope_and_reads_records_from_before_that) {
  fixture fx;
  const auto bob = id_of(2), carol = id_of(3), dave = id_of(4);
  const auto e1 = test::fake_envelope(bob, 1, t0 + day_ms), e2 = test::fake_envelope(bob, 2, t0 + day_ms);
  ASSERT_EQ(fx.put(bob, e1, 0, t0, carol).value(), put_outcome::stored);
  ASSERT_EQ(fx.put(bob, e1, 0, t0, dave).value(), put_outcome::duplicate);  // the first deposit's depositor stays
  ASSERT_EQ(fx.put(bob, e2, 0, t0, dave).value(), put_outcome::stored);
  fx.reopen();
  auto held = fx.list(bob);
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].depositor, carol.str());
  EXPECT_EQ(held[1].depositor, dave.str());

  // A version 1 record (written before depositors were recorded): the same
  // fields without the trailing depositor string.
  char id_hex[17];
  std::snprintf(id_hex, sizeof id_hex, "%016llx", static_cast<unsigned long long>(held[0].id));
  const std::string key = "m/e/" + bob.str() + "/" + id_hex;
  auto v2 = fx.store->get(key).value().value();
  ASSERT_EQ(v2[0], '\x02');
  std::string v1 = v2.substr(0, v2.size() - 2 - carol.str().size());
  v1[0] = '\x01';
  leveldb::WriteBatch b;
  b.Put(key, v1);
  ASSERT_TRUE(fx.store->write(std::move(b)));
  held = fx.list(bob);
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].envelope, e1);
  EXPECT_EQ(held[0].depositor, "");
  // A record of a version this code does not know is skipped, not misread.
  v1[0] = '\x03';
  leveldb::WriteBatch b3;
  b3.Put(key, v1);
  ASSERT_TRUE(fx.store->write(std::move(b3)));
  EXPECT_EQ(fx.list(bob).size(), 1u);
}

TEST(held_mail, the_same_envelope_deposited_twice_is_held_once) {
  fixture fx;
  const auto bob = id_of(2);
  const auto e = test::fake_envelope(bob, 1, t0 + day_ms);
  // Two puts before the first is durable: the second waits for the first's write.
  auto p1 = std::make_shared<std::promise<result<put_outcome>>>();
  auto p2 = std::make_shared<std::promise<result<put_outcome>>>();
  auto f1 = p1->get_future(), f2 = p2->get_future();
  fx.mail->put(bob, e, 0, t0, id_of(1), [p1](result<put_outcome> r) { p1->set_value(std::move(r)); });
  fx.mail->put(bob, e, 0, t0, id_of(1), [p2](result<put_outcome> r) { p2->set_value(std::move(r)); });
  ASSERT_EQ(f1.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(f2.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f1.get().value(), put_outcome::stored);
  EXPECT_EQ(f2.get().value(), put_outcome::duplicate);
  EXPECT_EQ(fx.put(bob, e).value(), put_outcome::duplicate);
  fx.reopen();
  EXPECT_EQ(fx.put(bob, e).value(), put_outcome::duplicate);
  EXPECT_EQ(fx.list(bob).size(), 1u);
  EXPECT_EQ(fx.mail->stats().messages, 1u);
}

TEST(held_mail, held_mail_refuses_deposit_over_quota) {
  held_mail_limits l;
  l.max_messages_per_peer = 2;
  l.max_bytes_per_peer = 1000;
  l.max_bytes_total = 1500;
  fixture fx(l);
  const auto bob = id_of(2), carol = id_of(3), dave = id_of(4);
  ASSERT_TRUE(fx.put(bob, test::fake_envelope(bob, 1, t0 + day_ms, 10)));
  ASSERT_TRUE(fx.put(bob, test::fake_envelope(bob, 2, t0 + day_ms, 10)));
  auto third = fx.put(bob, test::fake_envelope(bob, 3, t0 + day_ms, 10));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.err().code(), errc::quota_exceeded);
  // bytes per recipient: an envelope above the per-peer bytes can never fit
  auto big = fx.put(carol, test::fake_envelope(carol, 1, t0 + day_ms, 1000));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.err().code(), errc::frame_too_large);
  ASSERT_TRUE(fx.put(carol, test::fake_envelope(carol, 2, t0 + day_ms, 700)));
  auto carol2 = fx.put(carol, test::fake_envelope(carol, 3, t0 + day_ms, 300));
  ASSERT_FALSE(carol2);
  EXPECT_EQ(carol2.err().code(), errc::quota_exceeded);
  // the total: bob ~2x120 + carol ~800 held; dave's 600 would pass 1500
  auto d = fx.put(dave, test::fake_envelope(dave, 1, t0 + day_ms, 600));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.err().code(), errc::quota_exceeded);
  EXPECT_EQ(fx.mail->stats().refused, 4u);
  // an ack frees the quota, also after a reopen (counters rebuilt from m/h/)
  fx.reopen(l);
  ASSERT_TRUE(fx.ack(bob, {fx.list(bob).at(0).id}));
  EXPECT_TRUE(fx.put(bob, test::fake_envelope(bob, 3, t0 + day_ms, 10)));
}

TEST(held_mail, refuses_envelopes_for_another_recipient_and_expired_ones) {
  fixture fx;
  const auto bob = id_of(2), carol = id_of(3);
  auto wrong = fx.put(bob, test::fake_envelope(carol, 1, t0 + day_ms));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.err().code(), errc::bad_envelope);
  auto junk = fx.put(bob, bytes{1, 2, 3});
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.err().code(), errc::bad_envelope);
  auto old = fx.put(bob, test::fake_envelope(bob, 1, t0));
  ASSERT_FALSE(old);
  EXPECT_EQ(old.err().code(), errc::message_expired);
  EXPECT_EQ(fx.keys_under_m(), 0u);
}

TEST(held_mail, ttl_is_capped_by_the_limit_and_by_the_envelope_expiry) {
  held_mail_limits l;
  l.max_ttl_s = 3600;
  fixture fx(l);
  const auto bob = id_of(2);
  ASSERT_TRUE(fx.put(bob, test::fake_envelope(bob, 1, t0 + day_ms), 0));           // 0: the maximum
  ASSERT_TRUE(fx.put(bob, test::fake_envelope(bob, 2, t0 + day_ms), 99999));       // capped to 3600
  ASSERT_TRUE(fx.put(bob, test::fake_envelope(bob, 3, t0 + day_ms), 60));          // asked 60 s
  ASSERT_TRUE(fx.put(bob, test::fake_envelope(bob, 4, t0 + 10000), 3600));         // envelope ends first
  auto held = fx.list(bob);
  ASSERT_EQ(held.size(), 4u);
  EXPECT_EQ(held[0].expires_ms, t0 + 3600000);
  EXPECT_EQ(held[1].expires_ms, t0 + 3600000);
  EXPECT_EQ(held[2].expires_ms, t0 + 60000);
  EXPECT_EQ(held[3].expires_ms, t0 + 10000);
  EXPECT_EQ(fx.mail->next_expiry().value(), t0 + 10000);
}

TEST(held_mail, expire_sweep_drops_only_mail_past_its_expiry) {
  fixture fx;
  const auto bob = id_of(2), carol = id_of(3);
  ASSERT_TRUE(fx.put(bob, test::fake_envelope(bob, 1, t0 + 1000)));
  ASSERT_TRUE(fx.put(carol, test::fake_envelope(carol, 2, t0 + 2000)));
  ASSERT_TRUE(fx.put(bob, test::fake_envelope(bob, 3, t0 + day_ms)));
  EXPECT_EQ(fx.expire(t0 + 999), 0u);
  EXPECT_EQ(fx.expire(t0 + 1000), 1u);  // at its expiry
  EXPECT_EQ(fx.list(bob).size(), 1u);
  EXPECT_EQ(fx.list(carol).size(), 1u);
  EXPECT_EQ(fx.expire(t0 + 5000), 1u);
  EXPECT_TRUE(fx.list(carol).empty());
  fx.reopen();
  EXPECT_EQ(fx.mail->stats().messages, 1u);
  EXPECT_EQ(fx.expire(t0 + day_ms), 1u);
  EXPECT_EQ(fx.keys_under_m(), 0u);
  EXPECT_EQ(fx.mail->stats().messages, 0u);
  EXPECT_EQ(fx.mail->stats().bytes, 0u);
  EXPECT_EQ(fx.mail->stats().expired, 1u);
}

TEST(held_mail, ack_deletes_only_the_recipients_own_mail) {
  fixture fx;
  const auto bob = id_of(2), carol = id_of(3);
  ASSERT_TRUE(fx.put(bob, test::fake_envelope(bob, 1, t0 + day_ms)));
  ASSERT_TRUE(fx.put(carol, test::fake_envelope(carol, 2, t0 + day_ms)));
  const auto bob_id = fx.list(bob).at(0).id, carol_id = fx.list(carol).at(0).id;
  // carol acks bob's id (and an unknown one): nothing of bob's goes
  EXPECT_EQ(fx.mail->ack(carol, std::vector<std::uint64_t>{bob_id, 999}).value(), 0u);
  EXPECT_EQ(fx.list(bob).size(), 1u);
  // each lists only its own
  EXPECT_EQ(fx.list(bob).at(0).id, bob_id);
  EXPECT_EQ(fx.list(carol).at(0).id, carol_id);
  ASSERT_TRUE(fx.ack(bob, {bob_id}));
  EXPECT_TRUE(fx.list(bob).empty());
  EXPECT_EQ(fx.mail->ack(bob, std::vector<std::uint64_t>{bob_id}).value(), 0u);  // twice: nothing
  ASSERT_TRUE(fx.ack(carol, {carol_id}));
  EXPECT_EQ(fx.keys_under_m(), 0u);
  EXPECT_EQ(fx.mail->stats().acked, 2u);
  EXPECT_EQ(fx.mail->stats().recipients, 0u);
}

TEST(held_mail, list_is_bounded_and_resumes_after_an_id) {
  fixture fx;
  const auto bob = id_of(2);
  for (std::uint8_t i = 1; i <= 10; ++i) ASSERT_TRUE(fx.put(bob, test::fake_envelope(bob, i, t0 + day_ms, 100)));
  auto first = fx.mail->list(bob, 0, 3, 1u << 20).value();
  ASSERT_EQ(first.size(), 3u);
  auto next = fx.mail->list(bob, first.back().id, 100, 1u << 20).value();
  EXPECT_EQ(next.size(), 7u);
  EXPECT_GT(next.front().id, first.back().id);
  // byte bound: envelopes are 169 bytes; 400 bytes take two; the first always fits
  EXPECT_EQ(fx.mail->list(bob, 0, 100, 400).value().size(), 2u);
  EXPECT_EQ(fx.mail->list(bob, 0, 100, 1).value().size(), 1u);
}
