#pragma once
// The zmq plugin's test fixture: a node's side of it (loaded through the real
// plugin loader, started with a transport_host of a fresh identity).

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "identity/keypair.hpp"
#include "node/transport_host.hpp"
#include "plugin/plugin_loader.hpp"
#include "support/test_dirs.hpp"

namespace aqua::test {

struct accept_all : transport_observer {
  std::mutex m;
  std::vector<std::shared_ptr<connection>> conns;
  void on_incoming(std::shared_ptr<connection> c) override {
    std::lock_guard<std::mutex> g(m);
    conns.push_back(std::move(c));
  }
  std::shared_ptr<connection> first() {
    std::lock_guard<std::mutex> g(m);
    return conns.empty() ? nullptr : conns.front();
  }
  std::size_t count() {
    std::lock_guard<std::mutex> g(m);
    return conns.size();
  }
};

// Records why a connection closed (any thread).
struct close_watch : connection_observer {
  std::mutex m;
  std::optional<error> why;
  void on_readable() override {}
  void on_writable() override {}
  void on_closed(const error& e) override {
    std::lock_guard<std::mutex> g(m);
    why = e;
  }
  std::optional<error> get() {
    std::lock_guard<std::mutex> g(m);
    return why;
  }
};

inline std::shared_ptr<transport> load() {
  transport_config cfg;
  cfg.plugin = cfg.name = "zmq";
  auto t = plugin_loader({test::plugin_build_dir()}).load_transport(cfg);
  EXPECT_TRUE(t) << (t ? "" : t.err().what());
  return t ? *t : nullptr;
}

struct node_side {
  keypair key = keypair::generate();
  std::shared_ptr<transport> t = load();
  std::shared_ptr<accept_all> acc = std::make_shared<accept_all>();
  std::string addr;
  explicit node_side(bool listen = true, transport_config cfg = {}) {
    if (!cfg.settings.empty()) {
      cfg.plugin = cfg.name = "zmq";
      auto loaded = plugin_loader({test::plugin_build_dir()}).load_transport(cfg);
      EXPECT_TRUE(loaded) << (loaded ? "" : loaded.err().what());
      if (loaded) t = *loaded;
    }
    t->start(acc, std::make_shared<node_transport_host>(key, system_env()));
    if (listen) addr = *t->listen("/ip4/127.0.0.1/tcp/0");
  }
  ~node_side() { t->stop(); }
};

inline std::uint16_t port_of(const std::string& multiaddr) {
  return static_cast<std::uint16_t>(std::stoul(multiaddr.substr(multiaddr.rfind('/') + 1)));
}

} // namespace aqua::test
