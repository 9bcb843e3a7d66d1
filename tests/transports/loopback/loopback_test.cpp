// The loopback plugin, loaded through the real plugin loader.
#include <gtest/gtest.h>

#include <atomic>

#include "plugin/plugin_loader.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;

namespace {

struct counting_observer : connection_observer {
  std::atomic<int> readable{0}, writable{0}, closed{0};
  void on_readable() override { ++readable; }
  void on_writable() override { ++writable; }
  void on_closed(const error&) override { ++closed; }
};

struct accept_all : transport_observer {
  std::mutex m;
  std::vector<std::shared_ptr<connection>> conns;
  void on_incoming(std::shared_ptr<connection> c) override {
    std::lock_guard<std::mutex> g(m);
    conns.push_back(std::move(c));
  }
};

std::shared_ptr<transport> load(std::map<std::string, std::string> settings = {}) {
  transport_config cfg;
  cfg.plugin = cfg.name = "loopback";
  cfg.settings = std::move(settings);
  plugin_loader loader({test::plugin_build_dir()});
  auto t = loader.load_transport(cfg);
  EXPECT_TRUE(t) << (t ? "" : t.err().what());
  return t ? *t : nullptr;
}

bytes frame_of(std::uint32_t i) { return {static_cast<std::uint8_t>(i >> 24), static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}; }

struct pair_fixture {
  std::shared_ptr<transport> server, client;
  std::shared_ptr<accept_all> acceptor = std::make_shared<accept_all>();
  std::shared_ptr<connection> a, b;  // a: dialer end, b: accepted end
  pair_fixture(const std::string& name, std::map<std::string, std::string> settings = {}) {
    server = load(settings);
    client = load(settings);
    server->start(acceptor, nullptr);
    client->start(std::make_shared<accept_all>(), nullptr);
    EXPECT_TRUE(server->listen("/memory/" + name));
    auto c = client->dial("/memory/" + name);
    EXPECT_TRUE(c);
    a = *c;
    EXPECT_EQ(acceptor->conns.size(), 1u);
    b = acceptor->conns.at(0);
  }
};

} // namespace

TEST(loopback, preserves_per_connection_order) {
  pair_fixture p("order", {{"queue_frames", "100000"}, {"queue_bytes", "100000000"}});
  for (std::uint32_t i = 0; i < 20000; ++i) ASSERT_TRUE(p.a->send(frame_of(i)));
  for (std::uint32_t i = 0; i < 20000; ++i) {
    auto f = p.b->try_receive();
    ASSERT_TRUE(f);
    ASSERT_EQ(*f, frame_of(i));
  }
  EXPECT_FALSE(p.b->try_receive());
}

TEST(loopback, notifies_readable_and_both_directions_work) {
  pair_fixture p("notify");
  auto obs_b = std::make_shared<counting_observer>();
  p.b->set_observer(obs_b);
  ASSERT_TRUE(p.a->send(frame_of(1)));
  EXPECT_EQ(obs_b->readable, 1);
  ASSERT_TRUE(p.b->send(frame_of(2)));
  EXPECT_EQ(*p.a->try_receive(), frame_of(2));
}

TEST(loopback, applies_backpressure_instead_of_growing) {
  pair_fixture p("bp", {{"queue_frames", "8"}});
  auto obs_a = std::make_shared<counting_observer>();
  p.a->set_observer(obs_a);
  for (std::uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(p.a->send(frame_of(i)));
  auto blocked = p.a->send(frame_of(8));
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.err().code(), errc::would_block);
  EXPECT_EQ(obs_a->writable, 0);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(p.b->try_receive());
  EXPECT_EQ(obs_a->writable, 1);  // drained to half: sender is woken once
  EXPECT_TRUE(p.a->send(frame_of(8)));
}

TEST(loopback, byte_budget_also_bounds_the_queue) {
  pair_fixture p("bytes", {{"queue_bytes", "1024"}, {"max_frame_bytes", "512"}});
  ASSERT_TRUE(p.a->send(bytes(512, 1)));
  ASSERT_TRUE(p.a->send(bytes(512, 2)));
  auto r = p.a->send(bytes(1, 3));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::would_block);
  auto big = p.a->send(bytes(513, 0));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.err().code(), errc::frame_too_large);
}

TEST(loopback, close_is_seen_by_peer_after_pending_frames) {
  pair_fixture p("close");
  auto obs_b = std::make_shared<counting_observer>();
  p.b->set_observer(obs_b);
  ASSERT_TRUE(p.a->send(frame_of(1)));
  p.a->close();
  EXPECT_EQ(obs_b->closed, 1);
  EXPECT_FALSE(p.b->is_open());
  EXPECT_EQ(*p.b->try_receive(), frame_of(1));  // sent before close: still delivered
  auto r = p.b->send(frame_of(2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::connection_closed);
}

TEST(loopback, refuses_duplicate_listen_unknown_dial_and_foreign_addresses) {
  auto t = load();
  t->start(std::make_shared<accept_all>(), nullptr);
  ASSERT_TRUE(t->listen("/memory/dup"));
  auto again = t->listen("/memory/dup");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.err().code(), errc::address_in_use);
  auto nobody = t->dial("/memory/nobody-here");
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.err().code(), errc::connection_refused);
  auto tcp = t->dial("/ip4/127.0.0.1/tcp/1");
  ASSERT_FALSE(tcp);
  EXPECT_EQ(tcp.err().code(), errc::bad_address);
  t->stop();
  auto after = t->dial("/memory/dup");
  EXPECT_FALSE(after);  // stop() unregistered the listener
}

TEST(loopback, rejects_inconsistent_settings) {
  transport_config cfg;
  cfg.plugin = cfg.name = "loopback";
  cfg.settings = {{"queue_bytes", "100"}, {"max_frame_bytes", "200"}};
  plugin_loader loader({test::plugin_build_dir()});
  auto t = loader.load_transport(cfg);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.err().code(), errc::config_bad_value);
  cfg.settings = {{"queue_frames", "-3"}};
  EXPECT_FALSE(loader.load_transport(cfg));
}
