#pragma once
// Byte meter for the zmq transport's TCP connections (sans-I/O: byte counts
// in, verdicts out). libzmq keeps every part of an unfinished multipart
// message in the socket's pipe until the last part comes: ZMQ_MAXMSGSIZE
// bounds each part, the high-water mark counts only whole messages, and no
// option bounds the number of parts — so a peer that never ends a message
// grows the process without limit. The meter compares, per connection, the
// bytes libzmq has read from the socket (TCP_INFO bytes received minus those
// still unread in the kernel) with the wire size of the whole messages the
// transport took from it. What libzmq holds beyond that is the unfinished
// message plus whole messages not yet taken. A connection is struck when it
// is past the allowance and no whole message came from it since the last
// check: on one TCP connection ZMTP frames follow each other, so a peer in
// the middle of an endless message delivers nothing, while one whose whole
// messages wait to be read delivers some at every read turn. Two strikes in
// a row and the transport shuts it down (docs/transports.md, "Limits").
// The connections of one socket together may hold at most a total: over
// it, those holding most are struck (a paused listener would otherwise let
// every connection fill libzmq's pipe to the high-water mark).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace aqua::zmqt {

inline constexpr std::int64_t meter_interval_ms = 100;  // how often the transport checks its connections

class byte_meter {
 public:
  // ZMTP 3 greeting (64 bytes) and a READY command with its properties, sent once per connection.
  static constexpr std::uint64_t handshake_allowance = 4096;

  // `reading`: allowance per connection while the transport reads the socket every turn (an unfinished message
  // and what arrives during one turn); `paused`: while it does not read (whole messages pile up to the high-water
  // mark). `total`: what all the socket's connections together may hold beyond whole messages taken — while a
  // listener is paused, hwm whole messages per connection would otherwise be allowed on every one of them.
  byte_meter(std::uint64_t reading, std::uint64_t paused, std::uint64_t total = UINT64_MAX)
      : reading_(reading), paused_(paused), total_(total) {}

  // The wire size of one message part (ZMTP 3: flags and a 1-byte or 8-byte size, then the body).
  static std::uint64_t wire_size(std::size_t part) { return part + (part < 256 ? 2 : 9); }

  void opened(int fd) { conns_[fd] = {}; }
  void closed(int fd) { conns_.erase(fd); }
  // A whole message of `wire_bytes` was taken from `fd` (fds not opened are ignored).
  void took(int fd, std::uint64_t wire_bytes) {
    if (auto it = conns_.find(fd); it != conns_.end()) it->second.took += wire_bytes;
  }
  // Bytes libzmq read from `fd` and holds beyond whole messages taken, if more than the allowance.
  std::optional<std::uint64_t> over(int fd, std::uint64_t libzmq_read, bool paused) const {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return std::nullopt;
    const auto held = held_of(it->second, libzmq_read);
    if (held <= allowance(paused)) return std::nullopt;
    return held;
  }

  struct sample {
    int fd;
    std::uint64_t libzmq_read;  // bytes libzmq has read from fd so far
  };
  struct verdict {
    int fd;
    std::uint64_t held;        // bytes libzmq holds of it beyond whole messages taken
    std::uint64_t socket_held; // of all the stuck connections; over total() when that is what struck it
  };
  // One check of a socket's connections: those struck at this check and at the one before. Only a connection
  // that is stuck — no whole message taken from it since the check before — can be struck: when it holds more
  // than its allowance, or when the stuck ones together hold more than total() and it is among those holding
  // most (largest first, until what the others hold is within total()). A connection whose whole messages are
  // being taken holds at most about one unfinished message: ZMTP frames on it follow each other.
  std::vector<verdict> check(const std::vector<sample>& samples, bool paused);

  std::uint64_t allowance(bool paused) const { return handshake_allowance + (paused ? paused_ : reading_); }
  std::uint64_t total() const { return total_; }
  std::size_t tracked() const { return conns_.size(); }

 private:
  struct conn {
    std::uint64_t took = 0;
    std::uint64_t took_at_check = 0;  // `took` at the last check
    bool struck = false;              // at the last check
  };
  static std::uint64_t held_of(const conn& c, std::uint64_t libzmq_read) {
    return libzmq_read > c.took ? libzmq_read - c.took : 0;
  }
  std::uint64_t reading_, paused_, total_;
  std::unordered_map<int, conn> conns_;
};

inline std::vector<byte_meter::verdict> byte_meter::check(const std::vector<sample>& samples, bool paused) {
  struct seen {
    conn* c;
    int fd;
    std::uint64_t held;
    bool stuck;   // nothing taken since the check before
    bool strike;
  };
  std::vector<seen> all;
  std::uint64_t sum = 0;
  for (const auto& s : samples) {
    auto it = conns_.find(s.fd);
    if (it == conns_.end()) continue;
    auto& c = it->second;
    const auto held = held_of(c, s.libzmq_read);
    const bool stuck = c.took == c.took_at_check;
    all.push_back({&c, s.fd, held, stuck, stuck && held > allowance(paused)});
    if (stuck) sum += held;
  }
  if (sum > total_) {
    // Those already struck count as gone; then the largest stuck holders until the rest fit.
    std::uint64_t left = sum;
    for (const auto& x : all)
      if (x.strike) left -= x.held;
    std::vector<seen*> order;
    for (auto& x : all)
      if (!x.strike && x.stuck) order.push_back(&x);
    std::sort(order.begin(), order.end(), [](const seen* a, const seen* b) { return a->held > b->held; });
    for (auto* x : order) {
      if (left <= total_) break;
      x->strike = true;
      left -= x->held;
    }
  }
  std::vector<verdict> out;
  for (auto& x : all) {
    if (x.strike && x.c->struck) out.push_back({x.fd, x.held, sum});
    x.c->struck = x.strike;
    x.c->took_at_check = x.c->took;
  }
  return out;
}

} // namespace aqua::zmqt
