#pragma once
// bench/relay: many relay clients in one thread. Each has its own identity
// (keypair::from_seed), its own TCP connection to the relay and a sans-I/O
// p2p_connection (multistream, Noise XX, yamux) driven by one epoll loop;
// it RESERVEs on a HOP stream, waits for STATUS OK, closes the stream (as
// relay_client does) and then stays connected and idle. Anything the relay
// sends later (pings, identify) is answered by p2p_connection.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aqua/env.hpp"
#include "identity/keypair.hpp"
#include "p2p/p2p_connection.hpp"
#include "p2p/relay_messages.hpp"

namespace aqua::bench {

class reservation_swarm {
 public:
  using clock = std::chrono::steady_clock;

  // `window`: connections set up concurrently (not yet reserved).
  reservation_swarm(std::uint16_t port, peer_id relay, std::size_t window);
  ~reservation_swarm();
  reservation_swarm(const reservation_swarm&) = delete;
  reservation_swarm& operator=(const reservation_swarm&) = delete;

  // Opens connections until `target` are reserved in total. The first
  // failure (refused, reset, closed, bad answer) or the deadline ends it.
  result<void> reserve_until(std::size_t target, clock::time_point until);
  // Keeps serving every connection for `ms`; a connection lost is an error.
  result<void> idle(std::int64_t ms);
  std::size_t reserved() const noexcept { return reserved_; }
  // Closes every connection.
  void close_all();

 private:
  struct client {
    explicit client(keypair k) : key(std::move(k)) {}
    keypair key;
    int fd = -1;
    bool connecting = true, want_out = true, reserved = false, dead = false;
    std::optional<p2p::p2p_connection> p2p;
    bytes out;
    std::uint32_t hop = 0;
    p2p::relay::delimited_reader reader;
  };

  result<void> start_one();
  void on_io(std::size_t i, std::uint32_t events);
  void handle_events(std::size_t i);
  void flush(std::size_t i);
  void fail(std::size_t i, const std::string& why);
  result<void> poll_once(int timeout_ms);

  std::uint16_t port_;
  peer_id relay_;
  std::size_t window_;
  std::shared_ptr<env> env_ = system_env();
  int epfd_ = -1;
  std::vector<std::unique_ptr<client>> clients_;
  std::size_t reserved_ = 0, in_flight_ = 0;
  std::string error_;
};

} // namespace aqua::bench
