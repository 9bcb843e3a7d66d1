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

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace aqua::zmqt {

inline constexpr std::int64_t meter_interval_ms = 100;  // how often the transport checks its connections

class byte_meter {
 public:
  // ZMTP 3 greeting (64 bytes) and a READY command with its properties, sent once per connection.
  static constexpr std::uint64_t handshake_allowance = 4096;

  // `reading`: allowance while the transport reads the socket every turn (an unfinished message and what
  // arrives during one turn); `paused`: while it does not read (whole messages pile up to the high-water mark).
  byte_meter(std::uint64_t reading, std::uint64_t paused) : reading_(reading), paused_(paused) {}

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
    if (it == conns_.end() || libzmq_read <= it->second.took) return std::nullopt;
    const auto held = libzmq_read - it->second.took;
    if (held <= allowance(paused)) return std::nullopt;
    return held;
  }
  // One check of `fd`: the bytes held if this check and the one before both struck it (over the allowance,
  // and no whole message taken from it in between).
  std::optional<std::uint64_t> check(int fd, std::uint64_t libzmq_read, bool paused) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return std::nullopt;
    auto& c = it->second;
    auto held = over(fd, libzmq_read, paused);
    const bool strike = held && c.took == c.took_at_check;
    const bool again = strike && c.struck;
    c.struck = strike;
    c.took_at_check = c.took;
    return again ? held : std::nullopt;
  }
  std::uint64_t allowance(bool paused) const { return handshake_allowance + (paused ? paused_ : reading_); }
  std::size_t tracked() const { return conns_.size(); }

 private:
  struct conn {
    std::uint64_t took = 0;
    std::uint64_t took_at_check = 0;  // `took` at the last check
    bool struck = false;              // at the last check
  };
  std::uint64_t reading_, paused_;
  std::unordered_map<int, conn> conns_;
};

} // namespace aqua::zmqt
