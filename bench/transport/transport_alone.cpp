#include "transport_alone.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "identity/keypair.hpp"
#include "node/transport_host.hpp"
#include "plugin/plugin_loader.hpp"

namespace bench {
namespace {

using clk = std::chrono::steady_clock;

struct accept_one : aqua::transport_observer {
  std::mutex m;
  std::condition_variable cv;
  std::shared_ptr<aqua::connection> conn;
  void on_incoming(std::shared_ptr<aqua::connection> c) override {
    {
      std::lock_guard<std::mutex> g(m);
      conn = std::move(c);
    }
    cv.notify_all();
  }
};

// Wakes the reading thread on on_readable, as the node's observer wakes routing.
struct reader : aqua::connection_observer {
  std::mutex m;
  std::condition_variable cv;
  bool ready = false, closed = false;
  void on_readable() override {
    {
      std::lock_guard<std::mutex> g(m);
      ready = true;
    }
    cv.notify_one();
  }
  void on_writable() override {}
  void on_closed(const aqua::error&) override {
    {
      std::lock_guard<std::mutex> g(m);
      closed = true;
    }
    cv.notify_one();
  }
  // The next frame, or nothing after `limit` or once the connection closed.
  std::optional<aqua::bytes> next(aqua::connection& c, std::chrono::milliseconds limit) {
    auto deadline = clk::now() + limit;
    for (;;) {
      if (auto f = c.try_receive()) return f;
      std::unique_lock<std::mutex> l(m);
      if (closed || !cv.wait_until(l, deadline, [&] { return ready || closed; })) return std::nullopt;
      ready = false;
    }
  }
};

} // namespace

std::vector<double> zmq_transport_rtt(std::size_t n, std::size_t size) {
  std::vector<double> us;
  aqua::transport_config cfg;
  cfg.plugin = cfg.name = "zmq";
  aqua::plugin_loader loader({});
  auto ta = loader.load_transport(cfg), tb = loader.load_transport(cfg);
  if (!ta || !tb) {
    std::fprintf(stderr, "transport floor: %s\n", (!ta ? ta : tb).err().what().c_str());
    return us;
  }
  auto ka = aqua::keypair::generate(), kb = aqua::keypair::generate();
  auto accepted = std::make_shared<accept_one>();
  (*ta)->start(std::make_shared<accept_one>(), std::make_shared<aqua::node_transport_host>(ka, aqua::system_env()));
  (*tb)->start(accepted, std::make_shared<aqua::node_transport_host>(kb, aqua::system_env()));
  auto stop = [&] {
    (*ta)->stop();
    (*tb)->stop();
  };
  auto addr = (*tb)->listen("/ip4/127.0.0.1/tcp/0");
  auto c = addr ? (*ta)->dial(*addr + "/p2p/" + kb.id().str()) : aqua::result<std::shared_ptr<aqua::connection>>(addr.err());
  if (!c || !(*c)->send(aqua::bytes(size, 1))) {
    std::fprintf(stderr, "transport floor: %s\n", c ? "first send failed" : c.err().what().c_str());
    stop();
    return us;
  }
  std::shared_ptr<aqua::connection> s;
  {
    std::unique_lock<std::mutex> l(accepted->m);
    accepted->cv.wait_for(l, std::chrono::seconds(10), [&] { return accepted->conn != nullptr; });
    s = accepted->conn;
  }
  auto ra = std::make_shared<reader>(), rb = std::make_shared<reader>();
  if (!s) {
    stop();
    return us;
  }
  (*c)->set_observer(ra);
  s->set_observer(rb);
  (void) rb->next(*s, std::chrono::seconds(10));  // the first frame
  std::thread echo([&] {
    for (std::size_t i = 0; i < n + 10; ++i) {
      auto f = rb->next(*s, std::chrono::seconds(10));
      if (!f || !s->send(*f)) return;
    }
  });
  aqua::bytes ping(size, 2);
  for (std::size_t i = 0; i < n + 10; ++i) {
    auto t0 = clk::now();
    if (!(*c)->send(ping) || !ra->next(**c, std::chrono::seconds(10))) break;
    if (i >= 10) us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
  }
  echo.join();
  stop();
  if (us.size() != n) us.clear();
  return us;
}

} // namespace bench
