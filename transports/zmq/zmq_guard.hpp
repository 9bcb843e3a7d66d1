#pragma once
// The zmq listener's TCP connection guard (sans-I/O: fds and times in,
// decisions out). libzmq accepts every TCP connection a listener gets and
// keeps it until the peer closes it: it has no accept limit, and a ROUTER
// never tells its user about a connection that sends nothing. A flood of
// connections would use up the process's file descriptors (then libzmq's
// listener spins on EMFILE and the store cannot open its next file).
//
// The guard keeps the listener's view of its open TCP connections, fed from
// libzmq's socket monitor (accepted / disconnected) and from the transport
// (a Noise link established on a connection, or dropped). It decides
//   - at accept: refuse a connection beyond `max_connections` in all, or
//     beyond `max_per_address` from one IP address, or beyond
//     `new_per_address_per_s` new connections a second from one IP address
//     (a bucket of that many, refilled at that rate: each new connection is a
//     Noise handshake the listener pays for);
//   - later: close a connection that has no established Noise link for
//     `handshake_timeout_ms` (since it was accepted, or since its link ended).
// The transport carries the decisions out with shutdown(2) on the fd, so
// libzmq sees the connection end and closes it itself (docs/transports.md).

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/rate_buckets.hpp"

namespace aqua::zmqt {

// The address the per-address limits count a peer under: an IPv4 address
// itself (also when it arrives IPv4-mapped, ::ffff:a.b.c.d), an IPv6 address
// its /64 ("2001:db8:1:2::/64"): one host usually holds a whole /64, so
// counting single IPv6 addresses would let it open as many connections as it
// likes. Text that is no IP address comes back unchanged.
std::string limit_address(const std::string& ip);

class conn_guard {
 public:
  struct limits {
    std::size_t max_connections = 4096;
    std::size_t max_per_address = 256;
    std::int64_t handshake_timeout_ms = 10000;
    std::size_t new_per_address_per_s = 64;  // 0: no rate limit
  };
  enum class verdict { keep, over_total, over_address, over_rate };

  explicit conn_guard(limits lim) : lim_(lim), rate_(lim.new_per_address_per_s) {}

  // libzmq accepted `fd` from `address` (limit_address() of the peer's IP). Kept
  // connections are tracked until closed(); refused ones are not.
  verdict accepted(int fd, const std::string& address, std::int64_t now_ms);
  // libzmq's connection on `fd` ended (unknown fds are ignored).
  void closed(int fd);
  // A Noise link is established on `fd`: it stays open for as long as libzmq keeps it.
  void authenticated(int fd);
  // The link on `fd` ended (failed, replaced, evicted): the connection gets
  // another handshake_timeout_ms to start a new one.
  void unauthenticated(int fd, std::int64_t now_ms);
  // Connections without a link for handshake_timeout_ms. Each is returned
  // once; it stays counted until closed().
  std::vector<int> overdue(std::int64_t now_ms);

  std::size_t open() const { return conns_.size(); }
  std::size_t open_from(const std::string& address) const;
  const limits& settings() const { return lim_; }

 private:
  struct entry {
    std::string address;
    std::int64_t since_ms = 0;  // accepted, or link ended
    bool authenticated = false;
    bool closing = false;  // returned by overdue(), waiting for closed()
  };
  limits lim_;
  std::unordered_map<int, entry> conns_;
  std::unordered_map<std::string, std::size_t> per_address_;
  rate_buckets<std::string> rate_;
};

} // namespace aqua::zmqt
