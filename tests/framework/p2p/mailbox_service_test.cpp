// mailbox_service sans-I/O: bytes into handlers, bytes out, a real LevelDB
// behind held_mail, and the "loop" being this test thread.
#include <gtest/gtest.h>


#include "identity/keypair.hpp"
#include "p2p/mailbox_messages.hpp"
#include "p2p/mailbox_service.hpp"
#include "p2p/relay_messages.hpp"
#include "framework/p2p/service_loop.hpp"
#include "support/fake_envelope.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;
using namespace aqua::p2p;
namespace mb = aqua::p2p::mailbox;

namespace {

constexpr std::int64_t t0 = 1700000000000;
constexpr std::int64_t day_ms = 86400000;

peer_id id_of(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value().id(); }

using loop = test::service_loop;  // the server's loop

struct stream {
  std::unique_ptr<stream_handler> h;
  int wakes = 0;
  relay::delimited_reader reader{mb::max_message_size};
  std::vector<mb::message> got;

  void send(const mb::message& m) {
    auto f = mb::frame(m).value();
    ASSERT_TRUE(h->on_data(f));
    drain();
  }
  void drain() {
    reader.feed(h->take_output());
    for (;;) {
      auto raw = reader.next();
      ASSERT_TRUE(raw) << raw.err().what();
      if (!*raw) break;
      got.push_back(mb::decode(**raw).value());
    }
  }
};

struct fixture {
  test::temp_dir tmp{"mbsvc"};
  std::shared_ptr<deterministic_env> env = std::make_shared<deterministic_env>(1, t0);
  std::shared_ptr<store::db> db;
  std::shared_ptr<store::held_mail> mail;
  loop lp;
  std::shared_ptr<mailbox_service> svc;
  stream_service service;

  explicit fixture(store::held_mail_limits limits = {}, mailbox_service_config cfg = {}) {
    db = std::shared_ptr<store::db>(store::db::open(tmp.path() / "s").value().release());
    mail = std::shared_ptr<store::held_mail>(store::held_mail::open(db, limits).value().release());
    svc = mailbox_service::create(mail, env, [this](std::function<void()> fn) { return lp.post(std::move(fn)); }, cfg);
    service = svc->service();
  }
  std::unique_ptr<stream> open(const peer_id& remote) {
    auto s = std::make_unique<stream>();
    stream* raw = s.get();
    s->h = service.open(stream_context{remote, "/ip4/127.0.0.1/tcp/1", false, [raw] {
                                         ++raw->wakes;
                                         raw->drain();
                                       }});
    return s;
  }
  // Deposits on a fresh stream from `from` and returns the STATUS.
  mb::message deposit(const peer_id& from, const peer_id& to, const bytes& env, std::uint32_t ttl = 0) {
    auto s = open(from);
    s->send(mb::deposit(to.to_bytes(), env, ttl));
    EXPECT_TRUE(lp.run_until([&] { return !s->got.empty(); }));
    return s->got.empty() ? mb::message{} : s->got.front();
  }
};

} // namespace

TEST(mailbox_service, protocol_id_is_aqua_mailbox_1_0_0) {
  fixture fx;
  EXPECT_EQ(fx.service.protocol, "/aqua/mailbox/1.0.0");
}

TEST(mailbox_service, deposit_is_answered_ok_only_once_durable_and_fetch_returns_it) {
  fixture fx;
  const auto alice = id_of(1), bob = id_of(2);
  const auto env = test::fake_envelope(bob, 1, t0 + day_ms);
  auto s = fx.open(alice);
  s->send(mb::deposit(bob.to_bytes(), env, 3600));
  EXPECT_TRUE(s->got.empty());  // nothing before the write is durable
  ASSERT_TRUE(fx.lp.run_until([&] { return !s->got.empty(); }));
  EXPECT_EQ(s->got[0].status, mb::status::ok);
  EXPECT_EQ(fx.mail->stats().messages, 1u);

  auto f = fx.open(bob);
  f->send(mb::fetch());
  ASSERT_EQ(f->got.size(), 1u);
  EXPECT_EQ(f->got[0].type, mb::message::kind::mail);
  ASSERT_EQ(f->got[0].mail.size(), 1u);
  EXPECT_EQ(f->got[0].mail[0].envelope, env);
  f->send(mb::ack({f->got[0].mail[0].id}));
  ASSERT_TRUE(fx.lp.run_until([&] { return fx.mail->stats().messages == 0; }));
  EXPECT_TRUE(fx.mail->list(bob, 0, 10, 1 << 20).value().empty());
}

TEST(mailbox_service, a_peer_fetches_only_its_own_mail) {
  fixture fx;
  const auto alice = id_of(1), bob = id_of(2), carol = id_of(3);
  ASSERT_EQ(fx.deposit(alice, bob, test::fake_envelope(bob, 1, t0 + day_ms)).status, mb::status::ok);
  auto f = fx.open(carol);
  f->send(mb::fetch());
  EXPECT_TRUE(f->got.empty());
  // carol acks bob's id 1: ignored
  f->send(mb::ack({1}));
  ASSERT_TRUE(fx.lp.run_until([] { return true; }));
  EXPECT_EQ(fx.mail->stats().messages, 1u);
}

TEST(mailbox_service, an_open_fetch_stream_gets_new_deposits_pushed) {
  fixture fx;
  const auto alice = id_of(1), bob = id_of(2);
  auto f = fx.open(bob);
  f->send(mb::fetch());
  EXPECT_TRUE(f->got.empty());
  ASSERT_EQ(fx.deposit(alice, bob, test::fake_envelope(bob, 7, t0 + day_ms)).status, mb::status::ok);
  EXPECT_GE(f->wakes, 1);
  ASSERT_EQ(f->got.size(), 1u);
  EXPECT_EQ(f->got[0].mail.at(0).envelope, test::fake_envelope(bob, 7, t0 + day_ms));
  EXPECT_EQ(fx.svc->fetch_streams(), 1u);
  f->h->on_remote_closed();
  EXPECT_TRUE(f->h->finished());
  f.reset();
  EXPECT_EQ(fx.svc->fetch_streams(), 0u);
}

TEST(mailbox_service, fetch_window_waits_for_acks_and_unacked_mail_is_sent_again_on_a_new_stream) {
  mailbox_service_config cfg;
  cfg.window_messages = 3;
  fixture fx({}, cfg);
  const auto alice = id_of(1), bob = id_of(2);
  for (std::uint8_t i = 1; i <= 5; ++i)
    ASSERT_EQ(fx.deposit(alice, bob, test::fake_envelope(bob, i, t0 + day_ms)).status, mb::status::ok);
  auto f = fx.open(bob);
  f->send(mb::fetch());
  ASSERT_EQ(f->got.size(), 1u);
  ASSERT_EQ(f->got[0].mail.size(), 3u);
  const auto first = f->got[0].mail;
  f->send(mb::ack({first[0].id}));  // one slot free: one more
  ASSERT_EQ(f->got.size(), 2u);
  ASSERT_EQ(f->got[1].mail.size(), 1u);
  EXPECT_GT(f->got[1].mail[0].id, first[2].id);
  f.reset();  // stream gone with 3 unacknowledged
  ASSERT_TRUE(fx.lp.run_until([&] { return fx.mail->stats().messages == 4; }));
  auto again = fx.open(bob);
  again->send(mb::fetch());
  ASSERT_EQ(again->got.size(), 1u);
  EXPECT_EQ(again->got[0].mail.size(), 3u);
  EXPECT_EQ(again->got[0].mail[0].id, first[1].id);
}

TEST(mailbox_service, quota_and_size_refusals_come_back_as_status) {
  store::held_mail_limits l;
  l.max_messages_per_peer = 1;
  fixture fx(l);
  const auto alice = id_of(1), bob = id_of(2);
  EXPECT_EQ(fx.deposit(alice, bob, test::fake_envelope(bob, 1, t0 + day_ms)).status, mb::status::ok);
  auto q = fx.deposit(alice, bob, test::fake_envelope(bob, 2, t0 + day_ms));
  EXPECT_EQ(q.status, mb::status::quota_exceeded);
  EXPECT_NE(q.text.find("quota"), std::string::npos);
  EXPECT_EQ(fx.deposit(alice, bob, test::fake_envelope(bob, 3, t0 + day_ms, mb::max_envelope_size)).status,
            mb::status::too_large);
  EXPECT_EQ(fx.deposit(alice, bob, test::fake_envelope(id_of(3), 4, t0 + day_ms)).status, mb::status::bad_envelope);
  EXPECT_EQ(fx.deposit(alice, bob, test::fake_envelope(bob, 5, t0 - 1)).status, mb::status::expired);
  // the same envelope again: OK, still held once
  EXPECT_EQ(fx.deposit(alice, bob, test::fake_envelope(bob, 1, t0 + day_ms)).status, mb::status::ok);
  EXPECT_EQ(fx.mail->stats().messages, 1u);
}

TEST(mailbox_service, pipelined_deposits_are_answered_in_order) {
  fixture fx;
  const auto alice = id_of(1), bob = id_of(2);
  auto s = fx.open(alice);
  bytes all;
  for (std::uint8_t i = 1; i <= 4; ++i) {
    auto f = mb::frame(mb::deposit(bob.to_bytes(), test::fake_envelope(bob, i, i == 3 ? t0 : t0 + day_ms), 0)).value();
    all.insert(all.end(), f.begin(), f.end());
  }
  ASSERT_TRUE(s->h->on_data(all));
  s->drain();
  ASSERT_TRUE(fx.lp.run_until([&] { return s->got.size() == 4; }));
  EXPECT_EQ(s->got[0].status, mb::status::ok);
  EXPECT_EQ(s->got[1].status, mb::status::ok);
  EXPECT_EQ(s->got[2].status, mb::status::expired);
  EXPECT_EQ(s->got[3].status, mb::status::ok);
  s->h->on_remote_closed();
  EXPECT_TRUE(s->h->finished());
}

TEST(mailbox_service, malformed_and_unexpected_messages_get_a_status_and_end_the_stream) {
  fixture fx;
  const auto bob = id_of(2);
  auto junk = fx.open(bob);
  ASSERT_TRUE(junk->h->on_data(bytes{0x02, 0x08, 0x09}));  // type 9
  junk->drain();
  ASSERT_EQ(junk->got.size(), 1u);
  EXPECT_EQ(junk->got[0].status, mb::status::malformed_message);
  EXPECT_TRUE(junk->h->finished());

  auto wrong = fx.open(bob);
  wrong->send(mb::ack({1}));  // ACK before FETCH
  ASSERT_EQ(wrong->got.size(), 1u);
  EXPECT_EQ(wrong->got[0].status, mb::status::unexpected_message);

  auto mixed = fx.open(bob);
  mixed->send(mb::fetch());
  mixed->send(mb::deposit(bob.to_bytes(), test::fake_envelope(bob, 1, t0 + day_ms), 0));  // DEPOSIT on a fetch stream
  ASSERT_EQ(mixed->got.size(), 1u);
  EXPECT_EQ(mixed->got[0].status, mb::status::unexpected_message);
  EXPECT_EQ(fx.svc->fetch_streams(), 0u);

  auto huge = fx.open(bob);
  ASSERT_TRUE(huge->h->on_data(bytes{0xff, 0xff, 0xff, 0x7f}));  // announces 256 MiB
  huge->drain();
  ASSERT_EQ(huge->got.size(), 1u);
  EXPECT_EQ(huge->got[0].status, mb::status::too_large);
}

TEST(mailbox_service, sweep_drops_expired_mail) {
  fixture fx;
  const auto alice = id_of(1), bob = id_of(2);
  ASSERT_EQ(fx.deposit(alice, bob, test::fake_envelope(bob, 1, t0 + 5000)).status, mb::status::ok);
  ASSERT_EQ(fx.deposit(alice, bob, test::fake_envelope(bob, 2, t0 + day_ms)).status, mb::status::ok);
  EXPECT_EQ(fx.svc->sweep(), 0u);
  fx.env->advance_ms(5000);
  EXPECT_EQ(fx.svc->sweep(), 1u);
  EXPECT_EQ(fx.mail->stats().messages, 1u);
}

// Between sweeps, mail past its expiry is not handed out: the recipient would only reject it (a relay with a 60 s
// sweep delivered mail that had expired seconds before). A window's worth of it does not stall what follows.
TEST(mailbox_service, fetch_skips_mail_past_its_expiry_before_the_sweep_drops_it) {
  mailbox_service_config cfg;
  cfg.window_messages = 2;
  fixture fx({}, cfg);
  const auto alice = id_of(1), bob = id_of(2);
  for (std::uint8_t i = 1; i <= 5; ++i)
    ASSERT_EQ(fx.deposit(alice, bob, test::fake_envelope(bob, i, t0 + 5000)).status, mb::status::ok);
  ASSERT_EQ(fx.deposit(alice, bob, test::fake_envelope(bob, 9, t0 + day_ms)).status, mb::status::ok);
  fx.env->advance_ms(5000);  // the first five expired; no sweep yet
  auto f = fx.open(bob);
  f->send(mb::fetch());
  ASSERT_EQ(f->got.size(), 1u);
  ASSERT_EQ(f->got[0].mail.size(), 1u);
  EXPECT_EQ(f->got[0].mail[0].envelope, test::fake_envelope(bob, 9, t0 + day_ms));
  EXPECT_EQ(fx.mail->stats().messages, 6u);  // still held until the sweep
  EXPECT_EQ(fx.svc->sweep(), 5u);
}
