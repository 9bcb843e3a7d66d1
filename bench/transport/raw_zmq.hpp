#pragma once
// Baselines for bench/transport: raw cppzmq over TCP on 127.0.0.1, no
// encryption, no persistence — what ZeroMQ alone does on this machine.

#include <cstddef>
#include <vector>

namespace bench {

// PUSH -> PULL, `n` messages of `size` bytes; messages per second.
double raw_push_pull(std::size_t n, std::size_t size);
// REQ <-> REP, `n` round trips of `size` bytes; the round-trip times in microseconds.
std::vector<double> raw_req_rep(std::size_t n, std::size_t size);

double percentile(std::vector<double> v, double p);

} // namespace bench
