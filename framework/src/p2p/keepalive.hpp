#pragma once
// Private, sans-I/O: the keepalive of one established connection — when to
// ping the peer (/ipfs/ping/1.0.0) and when to give it up as dead.
//
//   keepalive k({15000, 45000}, now);          // established at `now`
//   on every byte read:   k.received(now);
//   at k.next_due_ms():   switch (k.on_timer(now)) { case ping: ...; case close: ...; }
//
// A connection is dead when nothing at all arrived from it for timeout_ms:
// not a ping answer, not its own pings, not a window update. A live peer
// answers our pings (js-libp2p and aqua also ping on their own), and a
// connection busy sending still receives the peer's window updates, so
// silence is a safe criterion. It catches a peer whose host died without a
// FIN or RST, and one that completed the handshake only to hold a
// connection slot. A peer that stops reading (its TCP window closed) but
// still sends is not caught here: the output bound handles it (tcp_host).

#include <cstdint>

namespace aqua::p2p {

struct keepalive_config {
  std::int64_t ping_interval_ms = 0;  // 0 = no pings
  std::int64_t timeout_ms = 0;        // silence before the connection is dead; 0 = never
};

class keepalive {
 public:
  enum class action : std::uint8_t { none, ping, close };

  keepalive(keepalive_config config, std::int64_t now_ms)
      : config_(config), last_received_ms_(now_ms), next_ping_ms_(now_ms + config.ping_interval_ms) {}

  // Bytes arrived from the peer.
  void received(std::int64_t now_ms) noexcept {
    if (now_ms > last_received_ms_) last_received_ms_ = now_ms;
  }
  // When on_timer() has something to do; -1: never (no pings, no timeout).
  std::int64_t next_due_ms() const noexcept;
  // Call at (or after) next_due_ms(). close: silent for timeout_ms (checked first); ping: send one now.
  action on_timer(std::int64_t now_ms) noexcept;
  std::int64_t silent_ms(std::int64_t now_ms) const noexcept { return now_ms - last_received_ms_; }
  const keepalive_config& config() const noexcept { return config_; }

 private:
  keepalive_config config_;
  std::int64_t last_received_ms_;
  std::int64_t next_ping_ms_;
};

inline std::int64_t keepalive::next_due_ms() const noexcept {
  std::int64_t due = -1;
  if (config_.ping_interval_ms > 0) due = next_ping_ms_;
  if (config_.timeout_ms > 0) {
    const std::int64_t dead = last_received_ms_ + config_.timeout_ms;
    if (due < 0 || dead < due) due = dead;
  }
  return due;
}

inline keepalive::action keepalive::on_timer(std::int64_t now_ms) noexcept {
  if (config_.timeout_ms > 0 && silent_ms(now_ms) >= config_.timeout_ms) return action::close;
  if (config_.ping_interval_ms > 0 && now_ms >= next_ping_ms_) {
    next_ping_ms_ = now_ms + config_.ping_interval_ms;
    return action::ping;
  }
  return action::none;
}

} // namespace aqua::p2p
