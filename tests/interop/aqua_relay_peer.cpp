// aqua_relay_peer: the aqua half of the js interop tests (tests/interop/relay_interop_test.py).
// Mirrors tests/interop/js/peer.mjs; prints one JSON object per line.
//
//   aqua_relay_peer listen --relay /ip4/127.0.0.1/tcp/P/p2p/RELAY [--exit-after N] [--key-seed-hex HEX64] [--timeout-ms MS]
//       reserves on the relay, prints {"event":"reserved","addr":CIRCUIT,...}, echoes "ack:"+frame
//       on every /aqua/msg/1.0.0 frame, closes its side after the peer's; exits 0 after N channels.
//   aqua_relay_peer dial --addr CIRCUIT --send-hex HEX [--count N] [--timeout-ms MS]
//       dials through the relay, sends N frames, closes, checks the N "ack:"+frame echoes, exits 0.
// Exit codes: 0 ok, 1 failure, 2 timeout, 64 usage.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "p2p/relay_client.hpp"

using namespace aqua;
using namespace aqua::p2p;

namespace {

std::mutex out_mu;
void emit(const std::string& json) {
  std::lock_guard lk(out_mu);
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
}
std::string q(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}
[[noreturn]] void die(int code, const std::string& why) {
  emit("{\"event\":\"error\",\"error\":" + q(why) + "}");
  std::_Exit(code);
}

struct args {
  std::map<std::string, std::string> v;
  std::string get(const std::string& k, const std::string& d = {}) const {
    auto it = v.find(k);
    return it == v.end() ? d : it->second;
  }
};

struct state {
  std::mutex mu;
  std::condition_variable cv;
  int channels_done = 0;
  std::vector<bytes> echoes;
  bool remote_closed = false, closed = false, opened = false;
  std::string close_reason;
  std::vector<std::string> addrs;
};

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) die(64, "usage: aqua_relay_peer listen|dial ...");
  const std::string mode = argv[1];
  args a;
  for (int i = 2; i + 1 < argc; i += 2) a.v[std::string(argv[i]).substr(2)] = argv[i + 1];
  const long timeout_ms = std::stol(a.get("timeout-ms", "30000"));
  keypair key = keypair::generate();
  if (auto seed = a.get("key-seed-hex"); !seed.empty()) {
    auto k = keypair::from_seed(from_hex(seed).value());
    if (!k) die(64, "bad --key-seed-hex");
    key = *k;
  }
  state st;
  relay_client_config cfg;
  if (mode == "listen") cfg.relays = {a.get("relay")};
  relay_client* rc_ptr = nullptr;
  relay_client_callbacks cb;
  cb.on_addresses = [&](const std::vector<std::string>& addrs) {
    std::string list;
    for (const auto& s : addrs) list += (list.empty() ? "" : ",") + q(s);
    emit("{\"event\":\"addresses\",\"addrs\":[" + list + "]}");
    std::lock_guard lk(st.mu);
    st.addrs = addrs;
    st.cv.notify_all();
  };
  cb.on_channel_open = [&](channel_id ch, const peer_id& p, bool inbound) {
    emit("{\"event\":\"channel-open\",\"channel\":" + std::to_string(ch) + ",\"peer\":" + q(p.str()) +
         ",\"inbound\":" + (inbound ? "true" : "false") + "}");
    std::lock_guard lk(st.mu);
    st.opened = true;
    st.cv.notify_all();
  };
  cb.on_frame = [&](channel_id ch, bytes f) {
    emit("{\"event\":\"message\",\"channel\":" + std::to_string(ch) + ",\"len\":" + std::to_string(f.size()) +
         ",\"data_hex\":" + q(to_hex(f)) + "}");
    if (mode == "listen") {
      bytes ack(4 + f.size());
      std::memcpy(ack.data(), "ack:", 4);
      if (!f.empty()) std::memcpy(ack.data() + 4, f.data(), f.size());
      if (auto r = rc_ptr->send(ch, ack); !r) emit("{\"event\":\"send-failed\",\"error\":" + q(r.err().what()) + "}");
    } else {
      std::lock_guard lk(st.mu);
      st.echoes.push_back(std::move(f));
      st.cv.notify_all();
    }
  };
  cb.on_remote_closed = [&](channel_id ch) {
    emit("{\"event\":\"remote-closed\",\"channel\":" + std::to_string(ch) + "}");
    if (mode == "listen") (void) rc_ptr->close(ch);
    std::lock_guard lk(st.mu);
    st.remote_closed = true;
    st.cv.notify_all();
  };
  cb.on_channel_closed = [&](channel_id ch, const error& e) {
    emit("{\"event\":\"channel-closed\",\"channel\":" + std::to_string(ch) + ",\"reason\":" + q(e.what()) + "}");
    std::lock_guard lk(st.mu);
    st.channels_done++;
    st.closed = true;
    st.close_reason = e.what();
    st.cv.notify_all();
  };
  relay_client rc(key, system_env(), cfg, cb);
  rc_ptr = &rc;
  if (auto r = rc.start(); !r) die(1, r.err().what());
  emit("{\"event\":\"started\",\"peer\":" + q(key.id().str()) + "}");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock lk(st.mu);

  if (mode == "listen") {
    if (!st.cv.wait_until(lk, deadline, [&] { return !st.addrs.empty(); })) die(2, "timeout: no reservation");
    lk.unlock();
    auto addrs = rc.addresses();
    auto status = rc.status();
    lk.lock();
    emit("{\"event\":\"reserved\",\"peer\":" + q(key.id().str()) + ",\"addr\":" + q(addrs[0]) +
         ",\"observed\":" + q(status[0].observed_addr) + ",\"expire\":" + std::to_string(status[0].expire_unix_s) + "}");
    const int exit_after = std::stoi(a.get("exit-after", "0"));
    if (!st.cv.wait_until(lk, deadline, [&] { return exit_after > 0 && st.channels_done >= exit_after; }))
      die(2, "timeout waiting for channels");
    lk.unlock();
    // Let the dialer tear the relayed connection down first (it has read everything).
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    status = rc.status();
    emit("{\"event\":\"done\",\"channels\":" + std::to_string(exit_after) + ",\"observed\":" + q(status[0].observed_addr) + "}");
    rc.stop();
    return 0;
  }
  if (mode != "dial") die(64, "mode must be listen or dial");
  const bytes payload = from_hex(a.get("send-hex")).value();
  const int count = std::stoi(a.get("count", "1"));
  lk.unlock();
  const auto t0 = std::chrono::steady_clock::now();
  auto ch = rc.dial(a.get("addr"));
  if (!ch) die(1, "dial: " + ch.err().what());
  for (int i = 0; i < count; ++i) {
    for (int tries = 0;; ++tries) {
      auto r = rc.send(*ch, payload);
      if (r) break;
      if (r.err().code() != errc::would_block || tries > 10000) die(1, "send: " + r.err().what());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (auto r = rc.close(*ch); !r) die(1, "close: " + r.err().what());
  lk.lock();
  if (!st.cv.wait_until(lk, deadline, [&] { return st.closed; })) die(2, "timeout waiting for echoes");
  bytes expected(4 + payload.size());
  std::memcpy(expected.data(), "ack:", 4);
  if (!payload.empty()) std::memcpy(expected.data() + 4, payload.data(), payload.size());
  if (st.echoes.size() != static_cast<std::size_t>(count))
    die(1, "got " + std::to_string(st.echoes.size()) + " echoes of " + std::to_string(count) + " (" + st.close_reason + ")");
  for (const auto& e : st.echoes)
    if (e != expected) die(1, "echo mismatch: " + to_hex(e));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  emit("{\"event\":\"done\",\"sent\":" + std::to_string(count) + ",\"received\":" + std::to_string(st.echoes.size()) +
       ",\"ms\":" + std::to_string(ms) + "}");
  lk.unlock();
  rc.stop();
  return 0;
}
