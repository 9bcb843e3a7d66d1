// The mailbox's resource limits on a real relay_server (sockets on
// 127.0.0.1, mailbox_service over LevelDB): fetch streams per peer, a
// client that fetches again after a refusal, and the bytes and time a
// started, never finished message may take.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "framework/p2p/mailbox_relay.hpp"
#include "framework/p2p/raw_peer.hpp"
#include "identity/keypair.hpp"
#include "p2p/mailbox_messages.hpp"
#include "p2p/mailbox_service.hpp"
#include "p2p/relay_client.hpp"
#include "p2p/relay_server.hpp"
#include "support/eventually.hpp"
#include "support/fake_envelope.hpp"
#include "support/port_of.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;
using namespace aqua::p2p;
using namespace std::chrono_literals;
namespace mb = aqua::p2p::mailbox;

namespace {

keypair key_of(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value(); }

bytes envelope_for(const peer_id& who, std::uint8_t tag) {
  return test::fake_envelope(who, tag, system_env()->now_unix_ms() + 86400000);
}

// A relay as `aqua relay serve` builds it: relay_server + mailbox_service (+ its sweep and reap ticks).
struct mailbox_server {
  test::temp_dir tmp{"mblimits"};
  keypair key = key_of(70);
  std::shared_ptr<store::db> db;
  std::shared_ptr<store::held_mail> mail;
  std::unique_ptr<relay_server> rs;
  std::shared_ptr<mailbox_service> svc;

  explicit mailbox_server(mailbox_service_config mc = {}) {
    db = std::shared_ptr<store::db>(store::db::open(tmp.path() / "s").value().release());
    mail = std::shared_ptr<store::held_mail>(store::held_mail::open(db, {}).value().release());
    relay_server_config cfg;
    cfg.listen = {"/ip4/127.0.0.1/tcp/0"};
    rs = std::make_unique<relay_server>(key, system_env(), cfg);
    svc = mailbox_service::create(
        mail, system_env(), [r = rs.get()](std::function<void()> fn) { return r->post(std::move(fn)); }, mc);
    rs->every(100, [s = svc] { s->reap(); });
    rs->add_service(svc->service());
    EXPECT_TRUE(rs->start());
  }
  ~mailbox_server() {
    rs->stop();
    svc.reset();
    rs.reset();  // its handlers held the last references to the service
    mail.reset();
    db.reset();
  }
  std::string addr() { return rs->addresses().at(0); }
  std::uint16_t port() { return test::port_of(addr()); }
  // Runs `fn` on the server's loop and returns its result.
  template <class F>
  auto on_loop(F fn) -> decltype(fn()) {
    auto p = std::make_shared<std::promise<decltype(fn())>>();
    auto f = p->get_future();
    EXPECT_TRUE(rs->post([p, fn] { p->set_value(fn()); }));
    return f.get();
  }
  std::size_t incomplete() {
    return on_loop([s = svc.get()] { return s->incomplete_bytes(); });
  }
};

// The messages a stream received so far.
std::vector<mb::message> messages_of(const test::raw_peer::stream_log& log) {
  relay::delimited_reader r(mb::max_message_size);
  r.feed(log.data);
  std::vector<mb::message> out;
  for (auto m = r.next(); m && *m; m = r.next())
    if (auto d = mb::decode(**m)) out.push_back(std::move(*d));
  return out;
}

// Opens a mailbox stream and sends FETCH; the stream's first answer (nullopt: none within 5 s, or reset).
std::optional<mb::message> fetch(test::raw_peer& p) {
  auto s = p.open(std::string(mb::protocol_id));
  if (!s) return std::nullopt;
  p.write(*s, mb::frame(mb::fetch()).value());
  auto log = p.wait_stream(*s, [](const auto& l) { return l.reset || !messages_of(l).empty(); });
  if (!log || log->reset) return std::nullopt;
  return messages_of(*log).front();
}

// Writes `data` on stream s as the windows allow (at most 10 s); false once the relay reset the stream.
bool push(test::raw_peer& p, std::uint32_t s, const bytes& data) {
  std::size_t off = 0;
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (off < data.size() && std::chrono::steady_clock::now() < end) {
    off += p.write_some(s, bytes_view(data).subspan(off));
    if (p.wait_stream(s, [](const auto& l) { return l.reset; }, 0ms)) return false;
    if (off < data.size()) std::this_thread::sleep_for(2ms);
  }
  return off == data.size();
}

// A message announced at the largest size (max_message_size: uvarint 80 80 84 02) and `n` bytes of it.
bytes started_message(std::size_t n) {
  bytes b = {0x80, 0x80, 0x84, 0x02};
  b.resize(4 + n, 0x41);
  return b;
}

bool was_reset(test::raw_peer& p, std::uint32_t s) {
  return p.wait_stream(s, [](const auto& l) { return l.reset; }, 5s).has_value();
}

} // namespace

TEST(relay_mailbox_limits, one_peer_cannot_take_every_fetch_stream) {
  mailbox_service_config mc;
  mc.max_fetch_streams = 6;  // a relay's worth of slots, scaled down
  mailbox_server relay(mc);
  const auto bob = key_of(21);
  test::mailbox_depositor alice(key_of(10));
  const bytes held = envelope_for(bob.id(), 1);
  ASSERT_TRUE(alice.deposit(relay.addr(), bob.id(), held));

  // mallory opens as many fetch streams as the relay has: only max_fetch_streams_per_peer are served.
  test::raw_peer mallory(30, relay.port(), relay.key.id());
  ASSERT_TRUE(mallory.wait_established());
  int refused = 0;
  for (int i = 0; i < 6; ++i) {
    auto opened = mallory.open(std::string(mb::protocol_id));
    ASSERT_TRUE(opened);
    const std::uint32_t s = *opened;
    mallory.write(s, mb::frame(mb::fetch()).value());
    auto log = mallory.wait_stream(s, [](const auto& l) { return !messages_of(l).empty(); }, 500ms);
    if (log && messages_of(*log).front().type == mb::message::kind::status) {
      EXPECT_EQ(messages_of(*log).front().status, mb::status::refused);
      ++refused;
    }
  }
  EXPECT_EQ(refused, 6 - static_cast<int>(mc.max_fetch_streams_per_peer));
  EXPECT_EQ(relay.on_loop([s = relay.svc.get()] { return s->fetch_streams(); }), mc.max_fetch_streams_per_peer);

  // bob still gets a fetch stream, and his mail.
  test::raw_peer bob_peer(21, relay.port(), relay.key.id());
  ASSERT_TRUE(bob_peer.wait_established());
  auto got = fetch(bob_peer);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->type, mb::message::kind::mail) << "status " << (got->status ? mb::to_string(*got->status) : "")
                                                << " " << got->text;
  EXPECT_EQ(got->mail.at(0).envelope, held);
}

TEST(relay_mailbox_limits, a_refused_fetch_is_tried_again_after_retry_ms) {
  mailbox_service_config mc;
  mc.max_fetch_streams = 1;
  mailbox_server relay(mc);
  const auto bob = key_of(21);
  // mallory holds the relay's only fetch stream.
  auto mallory = std::make_unique<test::raw_peer>(30, relay.port(), relay.key.id());
  ASSERT_TRUE(mallory->wait_established());
  auto held = mallory->open(std::string(mb::protocol_id));
  ASSERT_TRUE(held);
  mallory->write(*held, mb::frame(mb::fetch()).value());  // no mail for mallory: the stream just stays open
  const auto fetchers = [&] { return relay.on_loop([s = relay.svc.get()] { return s->fetch_streams(); }); };
  ASSERT_TRUE(test::eventually([&] { return fetchers() == 1; }));
  test::mailbox_depositor alice(key_of(10));
  const bytes mail = envelope_for(bob.id(), 1);
  ASSERT_TRUE(alice.deposit(relay.addr(), bob.id(), mail));

  // bob reserves; his fetch is refused while mallory holds the slot.
  std::mutex mu;
  std::vector<bytes> got;
  relay_client_config cfg;
  cfg.relays = {relay.addr()};
  cfg.retry_ms = 300;
  relay_client_callbacks cb;
  cb.on_held = [&](bytes frame, const peer_id&, std::function<void(result<void>)> done) {
    {
      std::lock_guard<std::mutex> g(mu);
      got.push_back(std::move(frame));
    }
    done(ok());
  };
  relay_client rc(bob, system_env(), cfg, cb);
  ASSERT_TRUE(rc.start());
  ASSERT_TRUE(test::eventually([&] { return !rc.addresses().empty(); }, 5s));
  std::this_thread::sleep_for(1s);  // its first FETCH has been answered REFUSED by now
  {
    std::lock_guard<std::mutex> g(mu);
    ASSERT_TRUE(got.empty());
  }
  // mallory leaves: bob's client fetches again on the same connection and gets the held mail.
  mallory.reset();
  ASSERT_TRUE(test::eventually(
      [&] {
        std::lock_guard<std::mutex> g(mu);
        return !got.empty();
      },
      5s));
  std::lock_guard<std::mutex> g(mu);
  EXPECT_EQ(got.at(0), mail);
}

TEST(relay_mailbox_limits, incomplete_messages_are_bounded_per_peer_and_in_all) {
  mailbox_service_config mc;
  mc.max_incomplete_bytes_per_peer = 3u << 20;
  mc.max_incomplete_bytes_total = 5u << 20;
  mailbox_server relay(mc);
  const bytes two_mib = started_message(2u << 20);

  test::raw_peer a(31, relay.port(), relay.key.id()), b(32, relay.port(), relay.key.id()),
      c(33, relay.port(), relay.key.id());
  for (auto* p : {&a, &b, &c}) ASSERT_TRUE(p->wait_established());
  auto a1 = a.open(std::string(mb::protocol_id)).value(), a2 = a.open(std::string(mb::protocol_id)).value();
  ASSERT_TRUE(push(a, a1, two_mib));
  ASSERT_TRUE(test::eventually([&] { return relay.incomplete() >= (2u << 20); }, 5s));
  (void) push(a, a2, two_mib);  // a's second started message takes a past its 3 MiB
  EXPECT_TRUE(was_reset(a, a2));
  EXPECT_FALSE(a.wait_stream(a1, [](const auto& l) { return l.reset; }, 0ms));

  auto b1 = b.open(std::string(mb::protocol_id)).value();
  ASSERT_TRUE(push(b, b1, two_mib));  // 4 MiB in all
  ASSERT_TRUE(test::eventually([&] { return relay.incomplete() >= (4u << 20); }, 5s));
  auto c1 = c.open(std::string(mb::protocol_id)).value();
  (void) push(c, c1, two_mib);  // would be 6 MiB in all
  EXPECT_TRUE(was_reset(c, c1));
  EXPECT_LE(relay.incomplete(), mc.max_incomplete_bytes_total);

  // Small messages arrive whole and need no budget: deposits still work while the budget is in use.
  const auto bob = key_of(21);
  test::mailbox_depositor alice(key_of(10));
  EXPECT_TRUE(alice.deposit(relay.addr(), bob.id(), envelope_for(bob.id(), 1)));
  // The bytes go with their streams.
  a.close();
  b.close();
  EXPECT_TRUE(test::eventually([&] { return relay.incomplete() == 0; }, 5s)) << relay.incomplete();
}

TEST(relay_mailbox_limits, a_message_not_finished_in_time_resets_its_stream) {
  mailbox_service_config mc;
  mc.incomplete_timeout_ms = 300;
  mailbox_server relay(mc);
  test::raw_peer a(31, relay.port(), relay.key.id());
  ASSERT_TRUE(a.wait_established());
  auto s = a.open(std::string(mb::protocol_id)).value();
  ASSERT_TRUE(push(a, s, started_message(1000)));
  ASSERT_TRUE(test::eventually([&] { return relay.incomplete() > 0; }, 5s));
  EXPECT_TRUE(was_reset(a, s));
  EXPECT_EQ(relay.incomplete(), 0u);
  // A stream that sends whole messages is left alone however long it stays.
  auto f = a.open(std::string(mb::protocol_id)).value();
  a.write(f, mb::frame(mb::fetch()).value());
  std::this_thread::sleep_for(800ms);
  EXPECT_FALSE(a.wait_stream(f, [](const auto& l) { return l.reset || l.closed; }, 0ms));
}

TEST(relay_mailbox_limits, deposits_waiting_for_the_store_are_bounded_and_one_past_the_bound_is_refused_at_once) {
  mailbox_service_config mc;
  mc.max_storing_bytes_per_peer = 15000;  // one of the 10 KB envelopes below, not two
  mailbox_server relay(mc);
  const auto bob = key_of(21);
  const auto expiry = system_env()->now_unix_ms() + 86400000;
  auto deposit_of = [&](std::uint8_t tag) {
    return mb::frame(mb::deposit(bob.id().to_bytes(), test::fake_envelope(bob.id(), tag, expiry, 10000), 3600)).value();
  };
  test::raw_peer alice(10, relay.port(), relay.key.id());
  ASSERT_TRUE(alice.wait_established());
  auto s = alice.open(std::string(mb::protocol_id)).value();
  // Two deposits in one write: the relay reads both in one turn, before the store can answer the first.
  bytes both = deposit_of(1);
  const bytes second = deposit_of(2);
  both.insert(both.end(), second.begin(), second.end());
  alice.write(s, both);
  auto log = alice.wait_stream(s, [](const auto& l) { return l.reset || messages_of(l).size() >= 2; });
  ASSERT_TRUE(log);
  ASSERT_FALSE(log->reset);
  auto answers = messages_of(*log);
  EXPECT_EQ(answers.at(0).status, mb::status::ok);
  EXPECT_EQ(answers.at(1).status, mb::status::quota_exceeded);
  EXPECT_NE(answers.at(1).text.find("the relay is still storing 10"), std::string::npos) << answers.at(1).text;
  EXPECT_NE(answers.at(1).text.find("bound of 15000"), std::string::npos) << answers.at(1).text;
  // Answered deposits count no more: the same stream deposits again.
  const auto storing = [&] { return relay.on_loop([v = relay.svc.get()] { return v->storing_bytes(); }); };
  EXPECT_TRUE(test::eventually([&] { return storing() == 0; }));
  alice.write(s, deposit_of(3));
  log = alice.wait_stream(s, [](const auto& l) { return l.reset || messages_of(l).size() >= 3; });
  ASSERT_TRUE(log);
  EXPECT_EQ(messages_of(*log).at(2).status, mb::status::ok);
  // Bob gets the two stored, not the refused one.
  test::raw_peer bob_peer(21, relay.port(), relay.key.id());
  ASSERT_TRUE(bob_peer.wait_established());
  auto got = fetch(bob_peer);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->type, mb::message::kind::mail);
  ASSERT_EQ(got->mail.size(), 2u);
  EXPECT_EQ(got->mail.at(0).envelope, test::fake_envelope(bob.id(), 1, expiry, 10000));
  EXPECT_EQ(got->mail.at(1).envelope, test::fake_envelope(bob.id(), 3, expiry, 10000));
}
