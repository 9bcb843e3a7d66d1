// bench/relay: circuit relay v2 on 127.0.0.1.
//   1. throughput: 1 KiB frames A -> B over one libp2p connection (direct)
//      vs through an in-process relay_server (relayed: A's Noise + yamux
//      nested inside the relay's circuit), same framing, same run; prints
//      msgs/s, MB/s (10^6 bytes of payload) and relayed/direct.
//   2. memory per idle reservation: N peers reserve on a relay running in a
//      separate process (this binary re-executed with --relay-server N);
//      the relay's VmRSS and heap in use before and after.
//
//   bench_relay [--messages M=200000] [--size S=1024] [--reservations N=10000]
//   bench_relay --quick          # CI smoke: 2000 messages, 300 reservations
// Exits 1 when anything fails (never on speed).

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench_args.hpp"
#include "reservations.hpp"
#include "throughput.hpp"

namespace {

using namespace aqua::bench;

struct params {
  std::size_t messages = 200000, size = 1024, reservations = 10000;
};

std::string self_exe() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

void print_throughput(const char* name, const throughput_result& r) {
  if (!r.ok) {
    std::printf("  %-24s FAILED: %s\n", name, r.error.c_str());
    return;
  }
  std::printf("  %-24s %10.0f %9.1f %9.1f ms\n", name, static_cast<double>(r.messages) / r.seconds,
              static_cast<double>(r.bytes) / 1e6 / r.seconds, r.setup_seconds * 1e3);
}

void print_sample(const char* label, const memory_sample& m) {
  std::printf("  %-22s %6zu %7zu %10lld %10lld %12lld\n", label, m.reservations, m.connections,
              static_cast<long long>(m.rss_kb), static_cast<long long>(m.anon_kb), static_cast<long long>(m.heap_bytes));
}

double per(std::int64_t delta, std::size_t count) {
  return count == 0 ? 0.0 : static_cast<double>(delta) / static_cast<double>(count);
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::err);  // stopping clients warns about lost relay connections
  params p;
  const aqua::bench::args args(argc, argv, "bench_relay [--quick] [--messages M] [--size S] [--reservations N]");
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::size_t {
      if (i + 1 >= argc) args.fail(a + " needs a value");
      return args.parse(argv[++i], a.c_str(), a == "--reservations" ? 2 : 1,
                        a == "--size" ? std::size_t{4} << 20 : std::size_t{100000000});
    };
    if (a == "--relay-server") return relay_server_main(next());
    if (a == "--quick") {
      p.messages = 2000;
      p.reservations = 300;
    } else if (a == "--messages") {
      p.messages = next();
    } else if (a == "--size") {
      p.size = next();
    } else if (a == "--reservations") {
      p.reservations = next();
    } else {
      args.fail("unknown argument '" + a + "'");
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  std::printf("bench/relay: %zu frames of %zu bytes A -> B on 127.0.0.1 (%u cores)\n", p.messages, p.size,
              static_cast<unsigned>(::sysconf(_SC_NPROCESSORS_ONLN)));
  std::printf("  %-24s %10s %9s %12s\n", "", "msgs/s", "MB/s", "setup");
  const double timeout = 60.0 + static_cast<double>(p.messages) * p.size / 5e6;  // >= 5 MB/s or fail
  const auto direct = run_direct(p.messages, p.size, timeout);
  print_throughput("direct (1 connection)", direct);
  const auto relayed = run_relayed(p.messages, p.size, timeout);
  print_throughput("relayed (circuit v2)", relayed);
  if (direct.ok && relayed.ok)
    std::printf("  relayed / direct: %.2fx msgs/s\n",
                (static_cast<double>(relayed.messages) / relayed.seconds) /
                    (static_cast<double>(direct.messages) / direct.seconds));

  const std::size_t n = p.reservations;
  std::printf("\nmemory per idle reservation: %zu peers reserve on a relay in a separate process\n", n);
  const auto mem = run_reservations(self_exe(), n, 60.0 + static_cast<double>(n) * 0.05);
  if (!mem.ok) {
    std::printf("  FAILED: %s\n", mem.error.c_str());
  } else {
    std::printf("  %-22s %6s %7s %10s %10s %12s\n", "relay", "rsvps", "conns", "VmRSS kB", "RssAnon kB",
                "heap bytes");
    print_sample("started, idle", mem.before);
    print_sample("half reserved", mem.half);
    print_sample("all reserved", mem.after);
    print_sample("all, after 2 s idle", mem.idle);
    const std::size_t rest = n - n / 2;
    std::printf("  per reservation (0 -> N):     VmRSS %.0f B, heap %.0f B\n",
                per((mem.idle.rss_kb - mem.before.rss_kb) * 1024, n),
                per(mem.idle.heap_bytes - mem.before.heap_bytes, n));
    std::printf("  per reservation (N/2 -> N):   VmRSS %.0f B, heap %.0f B\n",
                per((mem.after.rss_kb - mem.half.rss_kb) * 1024, rest),
                per(mem.after.heap_bytes - mem.half.heap_bytes, rest));
    std::printf("  setup: %zu reservations (TCP + Noise XX + yamux + RESERVE) in %.2f s, %.0f/s\n", n,
                mem.setup_seconds, static_cast<double>(n) / mem.setup_seconds);
    std::printf("  (socket buffers are kernel memory, not in the relay's RSS)\n");
  }
  // What part of that one connection's Noise + yamux state is (in this process, no sockets).
  const auto conn = heap_per_listener_connection(p.reservations < 1000 ? p.reservations : 1000);
  if (conn)
    std::printf("  of which an established p2p_connection (multistream + Noise + yamux, relay side): %lld B heap\n",
                static_cast<long long>(*conn));
  else
    std::printf("  p2p_connection heap: FAILED: %s\n", conn.err().what().c_str());
  return direct.ok && relayed.ok && mem.ok && conn ? 0 : 1;
}
