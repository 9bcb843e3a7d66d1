#pragma once
// bench/relay: memory of a relay server per idle reservation. The relay runs
// in a child process (this binary re-executed with --relay-server N, never a
// bare fork); the bench reserves N slots on it with N identities
// (reservation_swarm) and reads the child's VmRSS from /proc/<pid>/status
// and its heap in use (mallinfo2, reported by the child) before and after.

#include <cstddef>
#include <cstdint>
#include <string>

#include "aqua/error.hpp"

namespace aqua::bench {

struct memory_sample {
  std::size_t reservations = 0;  // the relay's count (hop_policy)
  std::size_t connections = 0;   // the relay's tcp_host connections
  std::int64_t rss_kb = 0;       // VmRSS
  std::int64_t anon_kb = 0;      // RssAnon (heap, stacks; no file-backed pages)
  std::int64_t heap_bytes = 0;   // malloc'd bytes in use (mallinfo2().uordblks), all arenas
};

struct reservation_result {
  bool ok = false;
  std::string error;
  std::size_t n = 0;
  double setup_seconds = 0;      // connect + Noise + yamux + RESERVE for all N
  memory_sample before, half, after, idle;  // 0, N/2, N, N after an idle pause
};

// Raises RLIMIT_NOFILE (soft and hard) to at least `want` (needs root above the hard limit).
void raise_nofile(std::size_t want);
// The child: serves reservations for up to n peers from 127.0.0.1, pings off.
// Prints "ready <relay address>", then answers "stats" lines on stdin with
// "stats <reservations> <connections> <heap bytes>"; stops on "quit" or EOF.
int relay_server_main(std::size_t n);
// The parent side; `self_exe` is this binary. Every wait is bounded by timeout_s in total.
reservation_result run_reservations(const std::string& self_exe, std::size_t n, double timeout_s);
// conn_heap.cpp: heap bytes of one established listener-side p2p_connection
// (Noise + yamux, no streams), averaged over `count` in-memory pairs.
result<std::int64_t> heap_per_listener_connection(std::size_t count);

} // namespace aqua::bench
