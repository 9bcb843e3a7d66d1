// aqua_relay_server_peer: an aqua circuit relay v2 server (p2p::relay_server)
// for the js interop tests (tests/interop/relay_interop_test.py, cases f/g).
//
//   aqua_relay_server_peer [--limit-data N] [--limit-duration-s N] [--key-seed-hex HEX64] [--timeout-ms MS]
//       listens on /ip4/127.0.0.1/tcp/0, prints {"event":"listening","addr":"/ip4/127.0.0.1/tcp/P/p2p/ID"};
//       a line "stats" on stdin prints {"event":"stats",...}; exits 0 when stdin closes, 2 after --timeout-ms.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "p2p/relay_server.hpp"

using namespace aqua;
using namespace aqua::p2p;

namespace {

void emit(const std::string& json) {
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
}

std::string stats_json(relay_server& rs) {
  const auto s = rs.stats();
  auto n = [](std::uint64_t v) { return std::to_string(v); };
  return "{\"event\":\"stats\",\"connections\":" + n(s.connections) + ",\"reservations\":" + n(s.hop.reservations) +
         ",\"reservations_granted\":" + n(s.hop.reservations_granted) + ",\"circuits\":" + n(s.hop.circuits) +
         ",\"connects_granted\":" + n(s.hop.connects_granted) + ",\"connects_refused\":" + n(s.hop.connects_refused) +
         ",\"circuits_closed\":" + n(s.hop.circuits_closed) + ",\"bytes_relayed\":" + n(s.bytes_relayed) +
         ",\"hop_refused\":" + n(s.hop_refused) + ",\"stop_failed\":" + n(s.stop_failed) +
         ",\"data_limited\":" + n(s.circuits_data_limited) + "}";
}

} // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> a;
  for (int i = 1; i + 1 < argc; i += 2) a[std::string(argv[i]).substr(2)] = argv[i + 1];
  auto get = [&](const std::string& k, const std::string& d) { return a.count(k) ? a[k] : d; };
  const long timeout_ms = std::stol(get("timeout-ms", "60000"));
  keypair key = keypair::generate();
  if (auto seed = get("key-seed-hex", ""); !seed.empty()) {
    auto k = keypair::from_seed(from_hex(seed).value());
    if (!k) {
      emit("{\"event\":\"error\",\"error\":\"bad --key-seed-hex\"}");
      return 64;
    }
    key = *k;
  }
  relay_server_config cfg;
  cfg.listen = {"/ip4/127.0.0.1/tcp/0"};
  cfg.hop.limit_data = std::stoull(get("limit-data", std::to_string(cfg.hop.limit_data)));
  cfg.hop.limit_duration_s = static_cast<std::uint32_t>(std::stoul(get("limit-duration-s", "120")));
  relay_server rs(key, system_env(), cfg);
  if (auto r = rs.start(); !r) {
    emit("{\"event\":\"error\",\"error\":\"" + r.err().what() + "\"}");
    return 1;
  }
  emit("{\"event\":\"listening\",\"addr\":\"" + rs.addresses().at(0) + "\"}");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string line;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{0, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[256];
    const ssize_t n = ::read(0, buf, sizeof buf);
    if (n <= 0) {
      emit(stats_json(rs));
      rs.stop();
      return 0;
    }
    line.append(buf, static_cast<std::size_t>(n));
    for (auto nl = line.find('\n'); nl != std::string::npos; nl = line.find('\n')) {
      if (line.substr(0, nl) == "stats") emit(stats_json(rs));
      line.erase(0, nl + 1);
    }
  }
  emit("{\"event\":\"error\",\"error\":\"timeout\"}");
  rs.stop();
  return 2;
}
