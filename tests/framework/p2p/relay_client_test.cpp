// relay_client against an in-process relay (fake_relay.hpp) over 127.0.0.1;
// the js-libp2p interop runs in tests/interop/relay_interop_test.py.
#include <gtest/gtest.h>

#include <condition_variable>

#include "framework/p2p/fake_relay.hpp"
#include "p2p/relay_client.hpp"
#include "support/notifier.hpp"

using namespace aqua;
using namespace aqua::p2p;
using namespace std::chrono_literals;

namespace {

struct peer : test::notifier {
  keypair key;
  std::vector<std::string> addrs;
  std::vector<std::pair<channel_id, bool>> opened;
  std::vector<std::pair<channel_id, bytes>> frames;
  std::vector<channel_id> remote_closed;
  std::vector<std::pair<channel_id, error>> closed;
  bool echo = false;
  std::unique_ptr<relay_client> rc;

  peer(std::uint8_t seed, relay_client_config cfg) : key(keypair::from_seed(bytes(32, seed)).value()) {
    relay_client_callbacks cb;
    cb.on_addresses = [this](const std::vector<std::string>& a) { set([&] { addrs = a; }); };
    cb.on_channel_open = [this](channel_id ch, const peer_id&, bool in) { set([&] { opened.emplace_back(ch, in); }); };
    cb.on_frame = [this](channel_id ch, bytes f) {
      if (echo) {
        bytes a(f.size() + 4, 'x');
        std::copy(f.begin(), f.end(), a.begin() + 4);
        EXPECT_TRUE(rc->send(ch, a));
      }
      set([&] { frames.emplace_back(ch, std::move(f)); });
    };
    cb.on_remote_closed = [this](channel_id ch) {
      if (echo) (void) rc->close(ch);
      set([&] { remote_closed.push_back(ch); });
    };
    cb.on_channel_closed = [this](channel_id ch, const error& e) { set([&] { closed.emplace_back(ch, e); }); };
    rc = std::make_unique<relay_client>(key, system_env(), std::move(cfg), cb);
    EXPECT_TRUE(rc->start());
  }
};

relay_client_config on(const std::string& relay) {
  relay_client_config c;
  c.relays = {relay};
  c.require_voucher = true;
  return c;
}

TEST(RelayClient, ReservesAndCarriesFramesBothWays) {
  test::fake_relay relay(50);
  peer a(1, on(relay.addr()));
  a.echo = true;
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }));
  const std::string circuit = relay.addr() + "/p2p-circuit/p2p/" + a.key.id().str();
  EXPECT_EQ(a.addrs, std::vector<std::string>{circuit});
  EXPECT_EQ(a.rc->addresses(), a.addrs);
  auto st = a.rc->status();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_TRUE(st[0].reserved);
  EXPECT_EQ(st[0].observed_addr.rfind("/ip4/127.0.0.1/tcp/", 0), 0u) << st[0].observed_addr;

  peer b(2, {});
  auto ch = b.rc->dial(circuit);
  ASSERT_TRUE(ch);
  // Queued before the channel opens; a zero-length frame and a large one included.
  bytes big(200000, 0x42);
  ASSERT_TRUE(b.rc->send(*ch, as_bytes("one")));
  ASSERT_TRUE(b.rc->send(*ch, bytes{}));
  ASSERT_TRUE(b.rc->send(*ch, big));
  ASSERT_TRUE(b.rc->close(*ch));
  ASSERT_TRUE(b.wait([&] { return !b.closed.empty(); }));
  ASSERT_EQ(b.frames.size(), 3u);
  EXPECT_EQ(b.frames[0].second, (bytes{'x', 'x', 'x', 'x', 'o', 'n', 'e'}));
  EXPECT_EQ(b.frames[1].second.size(), 4u);
  EXPECT_EQ(b.frames[2].second.size(), big.size() + 4);
  ASSERT_EQ(b.opened.size(), 1u);
  EXPECT_FALSE(b.opened[0].second);
  ASSERT_TRUE(a.wait([&] { return !a.closed.empty(); }));
  ASSERT_EQ(a.opened.size(), 1u);
  EXPECT_TRUE(a.opened[0].second);
  EXPECT_EQ(a.frames.size(), 3u);
}

TEST(RelayClient, DialWithoutReservationFails) {
  test::fake_relay relay(50);
  peer b(2, {});
  auto ch = b.rc->dial(relay.addr() + "/p2p-circuit/p2p/" + keypair::from_seed(bytes(32, 9)).value().id().str());
  ASSERT_TRUE(ch);
  ASSERT_TRUE(b.wait([&] { return !b.closed.empty(); }));
  EXPECT_EQ(b.closed[0].second.code(), errc::connection_refused);
  EXPECT_NE(b.closed[0].second.message().find("NO_RESERVATION"), std::string::npos);
  EXPECT_EQ(b.rc->dial("/ip4/127.0.0.1/tcp/1/p2p/x").err().code(), errc::bad_address);
}

// A relay that takes CONNECT and never answers must not hold the dial (and the frames its owner keeps for it) for ever.
TEST(RelayClient, ADialTheRelayNeverAnswersFailsAfterTheConnectTimeout) {
  test::fake_relay relay(50);
  relay.ignore_connects(1);
  relay_client_config cfg;
  cfg.connect_timeout_ms = 300;
  peer b(2, cfg);
  const auto target = relay.addr() + "/p2p-circuit/p2p/" + keypair::from_seed(bytes(32, 9)).value().id().str();
  auto ch = b.rc->dial(target);
  ASSERT_TRUE(ch);
  ASSERT_TRUE(b.wait([&] { return !b.closed.empty(); }, 5000ms)) << "the dial is still waiting";
  EXPECT_EQ(b.closed[0].first, *ch);
  EXPECT_EQ(b.closed[0].second.code(), errc::timeout) << b.closed[0].second.what();
  EXPECT_NE(b.closed[0].second.message().find("not open after 300 ms"), std::string::npos) << b.closed[0].second.what();
  EXPECT_TRUE(b.opened.empty());
  // The relay connection is still good: the next CONNECT is answered (NO_RESERVATION).
  ASSERT_TRUE(b.rc->dial(target));
  ASSERT_TRUE(b.wait([&] { return b.closed.size() == 2; }, 5000ms));
  EXPECT_EQ(b.closed[1].second.code(), errc::connection_refused) << b.closed[1].second.what();
}

TEST(RelayClient, RefreshesBeforeExpiry) {
  test::fake_relay relay(50, 3);  // 3 s reservations
  auto cfg = on(relay.addr());
  cfg.min_refresh_ms = 500;
  cfg.refresh_margin_ms = 2000;  // refresh ~1 s after each grant
  peer a(1, cfg);
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }));
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (relay.reserves() < 3 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
  EXPECT_GE(relay.reserves(), 3);
  EXPECT_FALSE(a.rc->addresses().empty());
}

TEST(RelayClient, RetriesAReservationTheRelayNeverAnswers) {
  test::fake_relay relay(50);
  relay.ignore_reserves(1);  // the first RESERVE gets no answer, its stream stays open
  auto cfg = on(relay.addr());
  cfg.reserve_timeout_ms = 300;
  cfg.retry_ms = 200;
  peer a(1, cfg);
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }, 5000ms));  // reserved by the second RESERVE
  EXPECT_EQ(relay.reserves(), 2);
  auto st = a.rc->status();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_TRUE(st[0].reserved);
}

TEST(RelayClient, ReservesOnANewConnectionWhenTheRelaySendsGoAway) {
  test::fake_relay relay(50);
  auto cfg = on(relay.addr());
  cfg.retry_ms = 100000;  // the new reservation must not wait for a retry
  peer a(1, cfg);
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }));
  ASSERT_EQ(relay.reserves(), 1);
  relay.go_away();  // no new streams on that connection: no refresh, dial or deposit could use it
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (relay.reserves() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(relay.reserves(), 2);
  ASSERT_TRUE(a.wait([&] { return !a.rc->addresses().empty(); }));
  auto st = a.rc->status();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_TRUE(st[0].connected && st[0].reserved) << st[0].last_error;
}

TEST(RelayClient, RefusesAVoucherForAnotherPeer) {
  test::fake_relay relay(50);
  relay.voucher_peer(keypair::from_seed(bytes(32, 9)).value().id());
  auto cfg = on(relay.addr());
  cfg.retry_ms = 100000;
  peer a(1, cfg);
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (relay.reserves() < 1 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(a.rc->addresses().empty());
  auto st = a.rc->status();
  EXPECT_NE(st[0].last_error.find("voucher"), std::string::npos) << st[0].last_error;
}

TEST(RelayClient, LosingTheRelayDropsTheAddress) {
  auto relay = std::make_unique<test::fake_relay>(50);
  peer a(1, on(relay->addr()));
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }));
  relay->stop();
  ASSERT_TRUE(a.wait([&] { return a.addrs.empty(); }));
  EXPECT_FALSE(a.rc->status()[0].connected);
}

} // namespace
