// relay_server's stream_service dispatch: a small publish/subscribe hub
// (the shape of /aqua/mailbox/1.0.0: one stream's data wakes another).
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "framework/p2p/raw_peer.hpp"
#include "p2p/relay_server.hpp"
#include "support/port_of.hpp"

using namespace aqua;
using namespace aqua::p2p;
using namespace std::chrono_literals;

namespace {

bytes txt(std::string_view s) { return bytes(s.begin(), s.end()); }

constexpr const char* hub_proto = "/test/hub/1.0.0";

// "sub" streams wait for messages; a "pub" stream's bytes go to every
// subscriber (woken through wake()); "bye" finishes a subscriber; "fail"
// makes the handler fail.
struct hub {
  std::set<std::pair<bytes*, std::function<void()>*>> subs;  // loop thread only
  std::atomic<int> live{0};
  std::atomic<int> opened{0};
  peer_id last_remote;
  std::string last_addr;
};

class hub_handler : public stream_handler {
 public:
  hub_handler(hub& h, stream_context ctx) : hub_(h), ctx_(std::move(ctx)) {
    ++hub_.live;
    ++hub_.opened;
    hub_.last_remote = ctx_.remote;
    hub_.last_addr = ctx_.remote_addr;
  }
  ~hub_handler() override {
    hub_.subs.erase({&inbox_, &ctx_.wake});
    --hub_.live;
  }
  result<void> on_data(bytes_view data) override {
    in_.insert(in_.end(), data.begin(), data.end());
    const std::string text(in_.begin(), in_.end());
    if (text == "fail") return error{errc::bad_frame, "told to fail"};
    if (text == "sub") {
      hub_.subs.insert({&inbox_, &ctx_.wake});
      out_ = txt("ok");
      in_.clear();
    } else if (text.rfind("pub:", 0) == 0) {
      for (auto [box, wake] : hub_.subs) {
        box->insert(box->end(), in_.begin() + 4, in_.end());
        (*wake)();  // from inside another handler's callback
      }
      in_.clear();
      out_ = txt("sent");
    } else if (text == "bye") {
      bye_ = true;
    }
    return ok();
  }
  bytes take_output() override {
    bytes o = std::move(out_);
    o.insert(o.end(), inbox_.begin(), inbox_.end());
    inbox_.clear();
    if (bye_) {
      o.insert(o.end(), {'b', 'y', 'e'});
      done_ = true;
    }
    out_.clear();
    return o;
  }
  bool finished() const override { return done_; }

 private:
  hub& hub_;
  stream_context ctx_;
  bytes in_, out_, inbox_;
  bool bye_ = false, done_ = false;
};

struct hub_server {
  keypair key = keypair::from_seed(bytes(32, 71)).value();
  hub h;
  std::unique_ptr<relay_server> rs;
  hub_server() {
    relay_server_config cfg;
    cfg.listen = {"/ip4/127.0.0.1/tcp/0"};
    cfg.services.push_back({hub_proto, [this](stream_context ctx) { return std::make_unique<hub_handler>(h, std::move(ctx)); }});
    rs = std::make_unique<relay_server>(key, system_env(), cfg);
    EXPECT_TRUE(rs->start());
  }
  std::uint16_t port() { return test::port_of(rs->addresses().at(0)); }
};

// Polls a condition the peers' events do not signal (handler lifetimes on the server).
template <class P>
bool poll_until(P pred) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!pred() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  return pred();
}

bool has(const test::raw_peer::stream_log& l, std::string_view text) {
  return std::string(l.data.begin(), l.data.end()).find(text) != std::string::npos;
}

TEST(RelayServerServices, DispatchesStreamsAndWakesOneStreamFromAnother) {
  hub_server s;
  test::raw_peer a(1, s.port(), s.key.id()), b(2, s.port(), s.key.id());
  ASSERT_TRUE(a.wait_established() && b.wait_established());
  auto sub = a.open(hub_proto);
  ASSERT_TRUE(sub);
  a.write(*sub, txt("sub"));
  ASSERT_TRUE(a.wait_stream(*sub, [](const auto& l) { return has(l, "ok"); }));
  (void) s.rs->stats();  // a round trip through the server's loop: its writes are visible here
  EXPECT_EQ(s.h.last_remote, a.id());
  EXPECT_EQ(s.h.last_addr.rfind("/ip4/127.0.0.1/tcp/", 0), 0u);
  auto pub = b.open(hub_proto);
  ASSERT_TRUE(pub);
  b.write(*pub, txt("pub:hello"));
  ASSERT_TRUE(b.wait_stream(*pub, [](const auto& l) { return has(l, "sent"); }));
  ASSERT_TRUE(a.wait_stream(*sub, [](const auto& l) { return has(l, "okhello"); }));
  EXPECT_EQ(s.rs->stats().service_streams, 2u);
  // finished(): our side is closed after the output, and the handler is gone.
  a.write(*sub, txt("bye"));
  auto log = a.wait_stream(*sub, [](const auto& l) { return l.closed; });
  ASSERT_TRUE(log);
  EXPECT_EQ(std::string(log->data.begin(), log->data.end()), "okhellobye");
  EXPECT_TRUE(poll_until([&] { return s.h.live == 1; }));
  // Waking a finished stream is harmless: publish again.
  b.write(*pub, txt("pub:again"));
  ASSERT_TRUE(b.wait_stream(*pub, [](const auto& l) { return has(l, "sentsent"); }));
}

TEST(RelayServerServices, HandlerErrorResetsTheStreamAndConnectionLossDestroysHandlers) {
  hub_server s;
  test::raw_peer a(1, s.port(), s.key.id());
  ASSERT_TRUE(a.wait_established());
  auto bad = a.open(hub_proto);
  ASSERT_TRUE(bad);
  a.write(*bad, txt("fail"));
  ASSERT_TRUE(a.wait_stream(*bad, [](const auto& l) { return l.reset; }));
  EXPECT_TRUE(poll_until([&] { return s.h.live == 0 && s.h.opened == 1; }));
  auto sub = a.open(hub_proto);
  auto sub2 = a.open(hub_proto);
  ASSERT_TRUE(sub && sub2);
  a.write(*sub, txt("sub"));
  a.write(*sub2, txt("sub"));
  ASSERT_TRUE(a.wait_stream(*sub2, [](const auto& l) { return has(l, "ok"); }));
  EXPECT_EQ(s.h.live, 2);
  a.close();
  EXPECT_TRUE(poll_until([&] { return s.h.live == 0; }));
  // An unknown protocol is refused during negotiation.
  test::raw_peer c(3, s.port(), s.key.id());
  ASSERT_TRUE(c.wait_established());
  auto other = c.open("/test/unknown/1.0.0");
  ASSERT_TRUE(other);
  EXPECT_TRUE(c.wait_stream(*other, [](const auto& l) { return l.reset; }));
}

TEST(RelayServerServices, ServiceAddedBeforeStartCanPostAndTickOnTheLoop) {
  keypair key = keypair::from_seed(bytes(32, 72)).value();
  hub h;
  relay_server_config cfg;
  cfg.listen = {"/ip4/127.0.0.1/tcp/0"};
  relay_server rs(key, system_env(), cfg);
  rs.add_service({hub_proto, [&h](stream_context ctx) { return std::make_unique<hub_handler>(h, std::move(ctx)); }});
  ASSERT_TRUE(rs.start());
  std::atomic<int> ticks{0};
  rs.every(10, [&ticks] { ++ticks; });
  EXPECT_TRUE(poll_until([&] { return ticks >= 3; }));
  std::atomic<bool> posted{false};
  ASSERT_TRUE(rs.post([&posted] { posted = true; }));
  EXPECT_TRUE(poll_until([&] { return posted.load(); }));
  test::raw_peer a(1, test::port_of(rs.addresses().at(0)), key.id());
  ASSERT_TRUE(a.wait_established());
  auto sub = a.open(hub_proto);
  ASSERT_TRUE(sub);
  a.write(*sub, txt("sub"));
  EXPECT_TRUE(a.wait_stream(*sub, [](const auto& l) { return has(l, "ok"); }));
  rs.stop();
  const int after = ticks;
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(ticks, after);  // stopped: no more ticks
  EXPECT_FALSE(rs.post([] {}));
}

} // namespace
