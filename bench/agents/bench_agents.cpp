// bench/agents: in-process request/reply between two agents of one host
// (each its own node: seal, durable outbox, loopback, open, durable inbox,
// ack, and the same back) against a bare CAF request/response between two
// actors, measured in the same run.
//
//   bench_agents [round trips] [caf round trips] [dir]
//
// `dir` holds the agents' stores (default: a temp dir); the durable writes
// are synced, so the disk behind it sets most of the cost (try /dev/shm).

#include <caf/all.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "aqua/agent.hpp"
#include "bench_args.hpp"

using namespace aqua;
using clock_type = std::chrono::steady_clock;

namespace {

class echo final : public agent {
 public:
  result<agent_payload> on_request(agent_context&, const agent_message& m) override { return m.payload; }
};

struct figures {
  double per_s = 0, p50_us = 0, p99_us = 0;
};

figures summarize(std::vector<double> us, double total_s) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * static_cast<double>(us.size())))]; };
  return {static_cast<double>(us.size()) / total_s, at(0.50), at(0.99)};
}

using ping_atom = caf::atom_constant<caf::atom("ping")>;

figures bare_caf(int n) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  // One (unused) argument: CAF 0.17 dereferences a null argument tuple for
  // function actors spawned without any (UBSan flags it in CAF's header).
  auto responder = sys.spawn([](int) -> caf::behavior {
    return {[](ping_atom, const std::vector<std::uint8_t>& b) { return b; }};
  }, 0);
  caf::scoped_actor self{sys};
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  std::vector<std::uint8_t> body(64, 'x');
  auto t0 = clock_type::now();
  for (int i = 0; i < n; ++i) {
    auto t = clock_type::now();
    self->request(responder, std::chrono::seconds(5), ping_atom::value, body)
      .receive([](const std::vector<std::uint8_t>&) {}, [](const caf::error&) { std::abort(); });
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t).count());
  }
  auto total = std::chrono::duration<double>(clock_type::now() - t0).count();
  caf::anon_send_exit(responder, caf::exit_reason::user_shutdown);
  return summarize(us, total);
}

} // namespace

int main(int argc, char** argv) {
  const aqua::bench::args a(argc, argv, "bench_agents [round trips=300] [caf round trips=20000] [dir=temp dir]");
  a.at_most(3);
  const int n = static_cast<int>(a.count(1, "round trips", 300, 1, 10000000));
  const int caf_n = static_cast<int>(a.count(2, "caf round trips", 20000, 1, 100000000));
  namespace fs = std::filesystem;
  fs::path base = argc > 3 ? fs::path(argv[3]) : fs::temp_directory_path();
  if (!fs::is_directory(base)) a.fail("dir '" + base.string() + "' is not a directory");
  base /= "aqua-bench-agents-" + std::to_string(::getpid());
  auto cfg = parse_config("node: {name: bench, log_level: warn}\ncomponents: {}\ntransports: []\n"
                          "agents: [{plugin: echo, name: a}, {plugin: echo, name: b}]\n", "<bench>", base);
  if (!cfg) return std::fprintf(stderr, "%s\n", cfg.err().what().c_str()), 1;
  auto host = agent_host::start_with(*cfg, {std::make_shared<echo>(), std::make_shared<echo>()}, {});
  if (!host) return std::fprintf(stderr, "%s\n", host.err().what().c_str()), 1;
  auto body = agent_payload{"echo", bytes(64, 'x')};
  for (int i = 0; i < 5; ++i) (void) (*host)->request_as("a", "b", body, std::chrono::seconds(10));  // sessions, warm-up
  std::vector<double> us;
  auto t0 = clock_type::now();
  for (int i = 0; i < n; ++i) {
    auto t = clock_type::now();
    auto r = (*host)->request_as("a", "b", body, std::chrono::seconds(10));
    if (!r) return std::fprintf(stderr, "round trip %d: %s\n", i, r.err().what().c_str()), 1;
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t).count());
  }
  auto agents = summarize(us, std::chrono::duration<double>(clock_type::now() - t0).count());
  (*host)->stop();
  std::error_code ec;
  fs::remove_all(base, ec);
  auto caf = bare_caf(caf_n);
  std::printf("request/reply, 64-byte body, one at a time, stores under %s\n", base.parent_path().c_str());
  std::printf("  aqua agents (E2EE + durable, loopback): %9.0f round trips/s   p50 %9.1f us   p99 %9.1f us   (%d)\n",
              agents.per_s, agents.p50_us, agents.p99_us, n);
  std::printf("  bare CAF request/response:              %9.0f round trips/s   p50 %9.1f us   p99 %9.1f us   (%d)\n",
              caf.per_s, caf.p50_us, caf.p99_us, caf_n);
  std::printf("  ratio: CAF is %.0fx faster in throughput; p50 latency %.0fx, p99 %.0fx\n", caf.per_s / agents.per_s,
              agents.p50_us / caf.p50_us, agents.p99_us / caf.p99_us);
  return 0;
}
