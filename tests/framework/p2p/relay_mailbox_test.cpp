// relay_client's network mailbox against a relay with mailbox_service over
// real sockets on 127.0.0.1 (tests/framework/p2p/mailbox_relay.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "fake_relay.hpp"
#include "identity/keypair.hpp"
#include "mailbox_relay.hpp"
#include "p2p/relay_client.hpp"
#include "support/eventually.hpp"
#include "support/fake_envelope.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;
using namespace aqua::p2p;

namespace {

constexpr std::int64_t day_ms = 86400000;

keypair key_of(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value(); }

using test::eventually;
constexpr std::chrono::seconds mail_wait{10};

bytes envelope_for(const keypair& who, std::uint8_t tag) {
  return test::fake_envelope(who.id(), tag, system_env()->now_unix_ms() + day_ms);
}

// alice: deposits only.
struct depositor : test::mailbox_depositor {
  depositor() : mailbox_depositor(key_of(10)) {}
};

// The recipient: reserves on `relay` and takes held mail; `fail_first` refuses the first n.
struct recipient {
  keypair key = key_of(20);
  std::mutex mu;
  std::vector<bytes> got;
  std::vector<peer_id> depositors;  // as the relay reported them, one per frame in `got`
  int fail_first = 0;
  std::unique_ptr<relay_client> rc;
  explicit recipient(const std::string& relay, int fail = 0) : fail_first(fail) {
    relay_client_config cfg;
    cfg.relays = {relay};
    cfg.retry_ms = 300;
    relay_client_callbacks cb;
    cb.on_held = [this](bytes frame, const peer_id& depositor, std::function<void(result<void>)> done) {
      bool fail = false;
      {
        std::lock_guard<std::mutex> g(mu);
        fail = fail_first > 0 && fail_first--;
        if (!fail) {
          got.push_back(std::move(frame));
          depositors.push_back(depositor);
        }
      }
      // From another thread, as the node does after its durable write.
      std::thread([done, fail] {
        done(fail ? result<void>(error{errc::io_error, "store says no"}) : ok());
      }).detach();
    };
    rc = std::make_unique<relay_client>(key, system_env(), cfg, cb);
    EXPECT_TRUE(rc->start());
  }
  std::size_t count() {
    std::lock_guard<std::mutex> g(mu);
    return got.size();
  }
};

} // namespace

TEST(relay_mailbox, mail_deposited_while_the_recipient_is_offline_is_fetched_acked_and_deleted) {
  test::temp_dir tmp("mbrelay");
  test::mailbox_relay relay(1, tmp.path() / "s");
  depositor alice;
  const auto bob_key = key_of(20);
  const auto e1 = envelope_for(bob_key, 1), e2 = envelope_for(bob_key, 2);
  ASSERT_TRUE(alice.deposit(relay.addr(), bob_key.id(), e1));
  ASSERT_TRUE(alice.deposit(relay.addr(), bob_key.id(), e2));
  ASSERT_TRUE(alice.deposit(relay.addr(), bob_key.id(), e1));  // retry of the same envelope: held once
  EXPECT_EQ(relay.mail().stats().messages, 2u);

  recipient bob(relay.addr());
  ASSERT_TRUE(eventually([&] { return bob.count() == 2; }, mail_wait));
  {
    std::lock_guard<std::mutex> g(bob.mu);
    EXPECT_EQ(bob.got[0], e1);
    EXPECT_EQ(bob.got[1], e2);
    // The relay reports who deposited each (the Noise-authenticated peer of the deposit stream).
    EXPECT_EQ(bob.depositors[0], alice.key.id());
    EXPECT_EQ(bob.depositors[1], alice.key.id());
  }
  ASSERT_TRUE(eventually([&] { return relay.held_keys() == 0; }, mail_wait)) << relay.held_keys() << " keys left under m/";
  EXPECT_EQ(relay.mail().stats().acked, 2u);

  // While bob's fetch stream is open, new mail is pushed to it.
  const auto e3 = envelope_for(bob_key, 3);
  ASSERT_TRUE(alice.deposit(relay.addr(), bob_key.id(), e3));
  ASSERT_TRUE(eventually([&] { return bob.count() == 3; }, mail_wait));
  ASSERT_TRUE(eventually([&] { return relay.held_keys() == 0; }, mail_wait));
}

TEST(relay_mailbox, held_mail_survives_a_relay_restart_between_deposit_and_fetch) {
  test::temp_dir tmp("mbrelay");
  const auto bob_key = key_of(20);
  const auto e1 = envelope_for(bob_key, 1);
  {
    test::mailbox_relay relay(1, tmp.path() / "s");
    depositor alice;
    ASSERT_TRUE(alice.deposit(relay.addr(), bob_key.id(), e1));
  }  // relay stops: its store closes
  test::mailbox_relay relay(1, tmp.path() / "s");
  EXPECT_EQ(relay.mail().stats().messages, 1u);
  recipient bob(relay.addr());
  ASSERT_TRUE(eventually([&] { return bob.count() == 1; }, mail_wait));
  std::lock_guard<std::mutex> g(bob.mu);
  EXPECT_EQ(bob.got[0], e1);
  ASSERT_TRUE(eventually([&] { return relay.held_keys() == 0; }, mail_wait));
}

TEST(relay_mailbox, quota_refusal_is_reported_to_the_depositor) {
  test::temp_dir tmp("mbrelay");
  store::held_mail_limits l;
  l.max_messages_per_peer = 1;
  test::mailbox_relay relay(1, tmp.path() / "s", l);
  depositor alice;
  const auto bob_key = key_of(20);
  ASSERT_TRUE(alice.deposit(relay.addr(), bob_key.id(), envelope_for(bob_key, 1)));
  auto r = alice.deposit(relay.addr(), bob_key.id(), envelope_for(bob_key, 2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::quota_exceeded) << r.err().what();
  auto wrong = alice.deposit(relay.addr(), bob_key.id(), envelope_for(key_of(30), 3));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.err().code(), errc::bad_envelope);
}

TEST(relay_mailbox, a_relay_refuses_deposits_when_its_disk_is_nearly_full) {
  test::temp_dir tmp("mbrelay");
  // The relay's view of its disk: what statvfs would say, set by the test.
  auto free = std::make_shared<std::atomic<std::uint64_t>>(std::uint64_t{300} << 20);
  store::held_mail_limits l;  // min_free_bytes: the 256 MiB default
  l.free_space = [free](const std::filesystem::path&) -> result<std::uint64_t> { return free->load(); };
  l.free_space_cache_ms = 0;  // probe on every deposit: the test changes the answer between them
  test::mailbox_relay relay(1, tmp.path() / "s", l);
  depositor alice;
  const auto bob_key = key_of(20);
  ASSERT_TRUE(alice.deposit(relay.addr(), bob_key.id(), envelope_for(bob_key, 1)));
  EXPECT_EQ(relay.mail().stats().messages, 1u);
  // Less than the reserve plus this deposit left: refused, and nothing is written.
  *free = (std::uint64_t{256} << 20) + 1000;  // a deposit here writes ~1.2 KB
  const std::size_t keys = relay.held_keys();
  auto r = alice.deposit(relay.addr(), bob_key.id(), envelope_for(bob_key, 2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::quota_exceeded) << r.err().what();
  EXPECT_NE(r.err().message().find("the relay's disk is nearly full: 268436456 bytes (256 MiB) free"),
            std::string::npos)
      << r.err().message();
  EXPECT_NE(r.err().message().find("mailbox_min_free_bytes"), std::string::npos) << r.err().message();
  EXPECT_EQ(relay.mail().stats().messages, 1u);
  EXPECT_EQ(relay.mail().stats().refused, 1u);
  EXPECT_EQ(relay.held_keys(), keys);
  // Room again (mail fetched, files deleted): the same deposit is stored.
  *free = std::uint64_t{1} << 30;
  ASSERT_TRUE(alice.deposit(relay.addr(), bob_key.id(), envelope_for(bob_key, 2)));
  EXPECT_EQ(relay.mail().stats().messages, 2u);
  recipient bob(relay.addr());
  ASSERT_TRUE(eventually([&] { return bob.count() == 2; }, mail_wait));
}

TEST(relay_mailbox, mail_not_taken_by_the_node_stays_on_the_relay_and_comes_again) {
  test::temp_dir tmp("mbrelay");
  test::mailbox_relay relay(1, tmp.path() / "s");
  depositor alice;
  const auto bob_key = key_of(20);
  const auto e1 = envelope_for(bob_key, 1);
  ASSERT_TRUE(alice.deposit(relay.addr(), bob_key.id(), e1));
  recipient bob(relay.addr(), 1);  // the first delivery fails
  ASSERT_TRUE(eventually([&] { return bob.count() == 1; }, mail_wait));
  std::lock_guard<std::mutex> g(bob.mu);
  EXPECT_EQ(bob.got[0], e1);
  EXPECT_EQ(bob.fail_first, 0);  // it was offered (and refused) before
  ASSERT_TRUE(eventually([&] { return relay.held_keys() == 0; }, mail_wait));
}

TEST(relay_mailbox, a_relay_without_a_mailbox_gives_not_supported) {
  test::fake_relay plain(1);
  depositor alice;
  const auto bob_key = key_of(20);
  auto r = alice.deposit(plain.addr(), bob_key.id(), envelope_for(bob_key, 1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::not_supported) << r.err().what();
}

TEST(relay_mailbox, deposit_to_a_relay_that_is_down_fails_within_the_timeout) {
  depositor alice;
  const auto bob_key = key_of(20);
  // A port nothing listens on (bound and closed by a relay that stopped).
  std::string addr;
  {
    test::temp_dir tmp("mbrelay");
    test::mailbox_relay gone(1, tmp.path() / "s");
    addr = gone.addr();
  }
  auto r = alice.deposit(addr, bob_key.id(), envelope_for(bob_key, 1));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.err().code() == errc::connection_closed || r.err().code() == errc::connection_refused)
      << r.err().what();
}

namespace {

// A relay that answers FETCH with 300 envelopes at once and never waits for acks (mailbox.md allows 64 in flight).
struct flooding_handler : p2p::stream_handler {
  std::shared_ptr<std::atomic<int>> gone;
  bool fetched = false, sent = false;
  explicit flooding_handler(std::shared_ptr<std::atomic<int>> g) : gone(std::move(g)) {}
  ~flooding_handler() override { ++*gone; }
  result<void> on_data(bytes_view) override {
    fetched = true;
    return ok();
  }
  bytes take_output() override {
    if (!fetched || sent) return {};
    sent = true;
    bytes out;
    const auto bob = key_of(20);
    for (std::uint64_t first = 1; first <= 300; first += 60) {
      std::vector<p2p::mailbox::mail_item> items;
      for (std::uint64_t id = first; id < first + 60; ++id)
        items.push_back({id, envelope_for(bob, static_cast<std::uint8_t>(id)), {}});
      auto f = p2p::mailbox::frame(p2p::mailbox::mail(std::move(items))).value();
      out.insert(out.end(), f.begin(), f.end());
    }
    return out;
  }
};

} // namespace

TEST(relay_mailbox, a_relay_that_sends_past_its_window_gets_its_fetch_stream_reset) {
  // A hostile relay pushed MAIL without waiting for acks: every envelope went to on_held and stayed in memory
  // until the node finished it (1.25 GB in 34 s). The client resets a stream past twice the window.
  test::temp_dir tmp("mbrelay");
  test::mailbox_relay relay(1, tmp.path() / "s");
  auto gone = std::make_shared<std::atomic<int>>(0);
  relay.open_mailbox_stream = [gone] { return std::make_unique<flooding_handler>(gone); };
  std::mutex mu;
  std::vector<std::function<void(result<void>)>> pending;  // the node is slow: nothing finishes
  relay_client_config cfg;
  cfg.relays = {relay.addr()};
  cfg.retry_ms = 60000;
  relay_client_callbacks cb;
  cb.on_held = [&](bytes, const peer_id&, std::function<void(result<void>)> done) {
    std::lock_guard<std::mutex> g(mu);
    pending.push_back(std::move(done));
  };
  const auto bob = key_of(20);  // the client keeps a reference
  auto rc = std::make_unique<relay_client>(bob, system_env(), cfg, cb);
  ASSERT_TRUE(rc->start());
  ASSERT_TRUE(eventually([&] { return gone->load() >= 1; }, mail_wait)) << "the flooding stream was not reset";
  std::lock_guard<std::mutex> g(mu);
  EXPECT_EQ(pending.size(), 2 * p2p::mailbox::window_messages);
  rc.reset();
}
