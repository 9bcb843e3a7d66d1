#pragma once
// A floor for bench/transport: the zmq transport plugin alone (Noise XX
// link, its I/O thread, ZeroMQ's), loaded as a node loads it, between two
// instances in this process, with no node around it: what a round trip
// costs before any actor, ratchet or store is involved.

#include <cstddef>
#include <vector>

namespace bench {

// `n` round trips of `size`-byte frames: a caller thread sends and waits for
// the echo (woken by on_readable, as routing is). Round-trip times in
// microseconds; empty if the plugin could not be loaded or connected.
std::vector<double> zmq_transport_rtt(std::size_t n, std::size_t size);

} // namespace bench
