// aqua_relay_plugin_peer: the relay_v2 transport plugin, loaded through the plugin loader with a
// node_transport_host (transport ABI 2), for tests/interop/relay_interop_test.py.
//
//   aqua_relay_plugin_peer PLUGIN_DIR listen --relay /ip4/127.0.0.1/tcp/P/p2p/RELAY [--exit-after N]
//       listen(<relay>/p2p-circuit), prints {"event":"reserved","addr":...}, echoes "ack:"+frame on
//       every incoming connection; exits 0 after N connections closed.
//   aqua_relay_plugin_peer PLUGIN_DIR dial --addr CIRCUIT --send-hex HEX [--count N]
//       dial(), sends N frames, waits for the N "ack:"+frame echoes, close(), exits 0.
// Exit codes: 0 ok, 1 failure, 2 timeout, 64 usage.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "node/transport_host.hpp"
#include "plugin/plugin_loader.hpp"

using namespace aqua;
using namespace std::chrono_literals;

namespace {

std::mutex mu;
std::condition_variable cv;
int closed_count = 0;
int writable_count = 0;
std::vector<bytes> received;

void emit(const std::string& s) {
  std::printf("%s\n", s.c_str());
  std::fflush(stdout);
}
[[noreturn]] void die(int code, const std::string& why) {
  emit("{\"event\":\"error\",\"error\":\"" + why + "\"}");
  std::_Exit(code);
}

bytes ack_of(const bytes& f) {
  bytes a(4 + f.size());
  std::memcpy(a.data(), "ack:", 4);
  if (!f.empty()) std::memcpy(a.data() + 4, f.data(), f.size());
  return a;
}

struct conn_obs : connection_observer {
  std::weak_ptr<connection> c;
  bool echo = false;
  void on_readable() override {
    auto conn = c.lock();
    if (!conn) return;
    for (int i = 0; i < 100000; ++i) {
      auto f = conn->try_receive();
      if (!f) break;
      emit("{\"event\":\"message\",\"len\":" + std::to_string(f->size()) + ",\"data_hex\":\"" + to_hex(*f) + "\"}");
      if (echo) {
        if (auto r = conn->send(ack_of(*f)); !r) emit("{\"event\":\"send-failed\",\"error\":\"" + r.err().what() + "\"}");
      } else {
        std::lock_guard lk(mu);
        received.push_back(std::move(*f));
        cv.notify_all();
      }
    }
  }
  void on_writable() override {
    std::lock_guard lk(mu);
    writable_count++;
    cv.notify_all();
  }
  void on_closed(const error& e) override {
    emit("{\"event\":\"closed\",\"reason\":\"" + e.what() + "\"}");
    std::lock_guard lk(mu);
    closed_count++;
    cv.notify_all();
  }
};

struct accept_obs : transport_observer {
  void on_incoming(std::shared_ptr<connection> c) override {
    emit("{\"event\":\"incoming\",\"peer\":\"" + c->remote_peer().str() + "\"}");
    auto o = std::make_shared<conn_obs>();
    o->c = c;
    o->echo = true;
    std::lock_guard lk(mu);
    conns.push_back(c);
    c->set_observer(o);
  }
  std::vector<std::shared_ptr<connection>> conns;
};

} // namespace

int main(int argc, char** argv) {
  if (argc < 3) die(64, "usage: aqua_relay_plugin_peer PLUGIN_DIR listen|dial ...");
  const std::string dir = argv[1], mode = argv[2];
  std::map<std::string, std::string> a;
  for (int i = 3; i + 1 < argc; i += 2) a[std::string(argv[i]).substr(2)] = argv[i + 1];
  transport_config cfg;
  cfg.plugin = cfg.name = "relay_v2";
  cfg.settings["listen_timeout_ms"] = "10000";
  auto t = plugin_loader({dir}).load_transport(cfg);
  if (!t) die(1, t.err().what());
  auto host = std::make_shared<node_transport_host>(keypair::generate(), system_env());
  auto acc = std::make_shared<accept_obs>();
  (*t)->start(acc, host);
  emit("{\"event\":\"started\",\"peer\":\"" + host->local_peer().str() + "\"}");
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  if (mode == "listen") {
    auto addr = (*t)->listen(a["relay"] + "/p2p-circuit");
    if (!addr) die(1, addr.err().what());
    emit("{\"event\":\"reserved\",\"addr\":\"" + *addr + "\"}");
    const int n = std::stoi(a.count("exit-after") ? a["exit-after"] : "1");
    std::unique_lock lk(mu);
    if (!cv.wait_until(lk, deadline, [&] { return closed_count >= n; })) die(2, "timeout waiting for connections");
    lk.unlock();
    std::this_thread::sleep_for(300ms);
    emit("{\"event\":\"done\",\"connections\":" + std::to_string(n) + "}");
    (*t)->stop();
    return 0;
  }
  if (mode != "dial") die(64, "mode must be listen or dial");
  const bytes payload = from_hex(a["send-hex"]).value();
  const std::size_t count = std::stoul(a.count("count") ? a["count"] : "1");
  auto c = (*t)->dial(a["addr"]);
  if (!c) die(1, c.err().what());
  auto o = std::make_shared<conn_obs>();
  o->c = *c;
  (*c)->set_observer(o);
  // would_block (the circuit is not open yet, or its buffer is full): wait for on_writable, then again.
  for (std::size_t i = 0; i < count;) {
    int seen;
    {
      std::lock_guard lk(mu);
      seen = writable_count;
    }
    auto r = (*c)->send(payload);
    if (r) {
      ++i;
      continue;
    }
    if (r.err().code() != errc::would_block) die(1, "send: " + r.err().what());
    std::unique_lock lk(mu);
    if (!cv.wait_until(lk, deadline, [&] { return writable_count != seen || closed_count > 0; }))
      die(2, "timeout waiting to send: " + r.err().what());
    if (closed_count > 0) die(1, "closed before frame " + std::to_string(i) + " went");
  }
  std::unique_lock lk(mu);
  if (!cv.wait_until(lk, deadline, [&] { return received.size() >= count || closed_count > 0; }))
    die(2, "timeout waiting for echoes");
  if (received.size() != count) die(1, "got " + std::to_string(received.size()) + " echoes");
  for (const auto& e : received)
    if (e != ack_of(payload)) die(1, "echo mismatch");
  lk.unlock();
  emit("{\"event\":\"done\",\"received\":" + std::to_string(received.size()) + ",\"peer\":\"" +
       (*c)->remote_peer().str() + "\"}");
  (*c)->close();
  std::this_thread::sleep_for(200ms);
  (*t)->stop();
  return 0;
}
