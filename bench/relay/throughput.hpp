#pragma once
// bench/relay: 1 KiB frames A -> B, direct (one libp2p connection between
// two tcp_hosts) and relayed (two relay_clients through an in-process
// relay_server), same framing (uvarint length || frame, /aqua/msg/1.0.0),
// same send buffer bound, backpressure honoured on both paths.

#include <cstddef>
#include <string>

namespace aqua::bench {

struct throughput_result {
  bool ok = false;
  std::string error;          // when !ok
  std::size_t messages = 0;   // received by B
  std::size_t bytes = 0;      // payload bytes received by B
  double seconds = 0;         // first send -> last frame received (setup excluded)
  double setup_seconds = 0;   // connection (and reservation, circuit) setup
};

// Each run is bounded by timeout_s (setup and transfer).
throughput_result run_direct(std::size_t messages, std::size_t size, double timeout_s);
throughput_result run_relayed(std::size_t messages, std::size_t size, double timeout_s);

} // namespace aqua::bench
