#pragma once
// Test helpers for relay_server tests: a server on 127.0.0.1 (fast expiry
// sweep) and a relay_client peer that records its channels.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <thread>

#include "p2p/relay_client.hpp"
#include "p2p/relay_server.hpp"
#include "support/port_of.hpp"
#include "support/eventually.hpp"
#include "support/notifier.hpp"

namespace aqua::test {

using namespace aqua::p2p;
using namespace std::chrono_literals;

inline bytes txt(std::string_view s) { return bytes(s.begin(), s.end()); }

inline keypair relay_key() { return keypair::from_seed(bytes(32, 70)).value(); }

struct server {
  keypair key = relay_key();
  std::unique_ptr<relay_server> rs;
  explicit server(relay_server_config cfg = {}) {
    if (cfg.listen.empty()) cfg.listen = {"/ip4/127.0.0.1/tcp/0"};
    if (cfg.expire_interval_ms == relay_server_config{}.expire_interval_ms) cfg.expire_interval_ms = 50;
    rs = std::make_unique<relay_server>(key, system_env(), std::move(cfg));
    EXPECT_TRUE(rs->start());
  }
  std::string addr() { return rs->addresses().at(0); }
  std::uint16_t port() { return port_of(addr()); }
  template <class P>
  bool eventually(P pred, std::chrono::milliseconds d = 5000ms) {
    return test::eventually([&] { return pred(rs->stats()); }, d, 10ms);
  }
};

// A relay_client recording its channels' events; echoes frames when asked.
struct client : notifier {
  keypair key;
  std::vector<std::string> addrs;
  std::vector<bytes> frames;
  std::size_t frame_bytes = 0;
  std::vector<std::pair<channel_id, error>> closed;
  std::vector<channel_id> opened;
  bool echo = false;
  std::unique_ptr<relay_client> rc;

  client(std::uint8_t seed, std::vector<std::string> relays, relay_client_config cfg = {})
      : key(keypair::from_seed(bytes(32, seed)).value()) {
    cfg.relays = std::move(relays);
    cfg.require_voucher = true;
    relay_client_callbacks cb;
    cb.on_addresses = [this](const std::vector<std::string>& a) { set([&] { addrs = a; }); };
    cb.on_channel_open = [this](channel_id ch, const peer_id&, bool) { set([&] { opened.push_back(ch); }); };
    cb.on_frame = [this](channel_id ch, bytes f) {
      bytes copy = echo ? f : bytes{};
      set([&] {  // recorded before the echo leaves: the peer may check our frames once it has the echo
        frame_bytes += f.size();
        frames.push_back(std::move(f));
      });
      if (echo) (void) rc->send(ch, copy);
    };
    cb.on_remote_closed = [this](channel_id ch) {
      if (echo) (void) rc->close(ch);
    };
    cb.on_channel_closed = [this](channel_id ch, const error& e) { set([&] { closed.emplace_back(ch, e); }); };
    rc = std::make_unique<relay_client>(key, system_env(), cfg, cb);
    EXPECT_TRUE(rc->start());
  }
};

} // namespace aqua::test
