// bench/relay: heap of one established listener-side p2p_connection (the
// relay's half: multistream, Noise transport state, yamux session), measured
// in this process with sans-I/O pairs whose bytes are shuttled in memory.
#include <malloc.h>

#include <optional>
#include <vector>

#include "p2p/p2p_connection.hpp"
#include "reservations.hpp"

namespace aqua::bench {

using namespace aqua::p2p;

namespace {
void drain(p2p_connection& c) {
  while (c.next_event()) {
  }
}
}  // namespace

result<std::int64_t> heap_per_listener_connection(std::size_t count) {
  auto e = system_env();
  const keypair relay = keypair::from_seed(bytes(keypair::seed_size, 0x53)).value();
  std::vector<keypair> keys;
  keys.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    bytes seed(keypair::seed_size, 0x6b);
    for (std::size_t b = 0; b < 4; ++b) seed[b] = static_cast<std::uint8_t>(i >> (8 * b));
    keys.push_back(keypair::from_seed(seed).value());
  }
  std::vector<std::optional<p2p_connection>> listeners(count), dialers(count);
  const auto heap0 = static_cast<std::int64_t>(::mallinfo2().uordblks);
  for (std::size_t i = 0; i < count; ++i) {
    auto& d = dialers[i].emplace(p2p_connection::dialer(keys[i], *e, relay.id()));
    auto& l = listeners[i].emplace(p2p_connection::listener(relay, *e));
    for (int round = 0; round < 64 && !(d.established() && l.established() && !d.has_output() && !l.has_output());
         ++round) {
      if (auto out = d.take_output(); !out.empty())
        if (auto r = l.on_data(out); !r) return r.err();
      if (auto out = l.take_output(); !out.empty())
        if (auto r = d.on_data(out); !r) return r.err();
      drain(d);
      drain(l);
    }
    if (!d.established() || !l.established()) return error{errc::crypto_failure, "in-memory pair not established"};
  }
  dialers.clear();  // the elements; the vectors' storage was in heap0 already
  const auto heap1 = static_cast<std::int64_t>(::mallinfo2().uordblks);
  // What the listeners allocated, plus the object itself (inline in the relay's connection record).
  return (heap1 - heap0) / static_cast<std::int64_t>(count) + static_cast<std::int64_t>(sizeof(p2p_connection));
}

} // namespace aqua::bench
