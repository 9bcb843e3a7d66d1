#pragma once
// Private, sans-I/O: which envelopes a relay's mailbox confirmed holding for a
// peer (docs/routing.md, "Mailbox"). While the peer stays offline, the
// outbox's retries of such an envelope are not deposited again: the relay
// still holds the very bytes and hands them out when the peer checks in.
//
// That stops being true once the peer has fetched them: if its ack was then
// lost (say the relay went down with it), only a new copy makes it ack again.
// So a deposit counts only until the peer is next seen online — a live
// connection took a frame for it, one from it was accepted, or it sent a
// frame — and at most `keep_ms` (10 minutes) in any case. Peers online but unreachable live (a
// frame too large for a relay circuit) thus get one deposit per outbox retry,
// which the relay deduplicates by hash if it still holds the bytes.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

#include "aqua/bytes.hpp"

namespace aqua::routing {

class deposit_memory {
 public:
  explicit deposit_memory(std::int64_t keep_ms = 10 * 60 * 1000, std::size_t max_remembered = 16384)
      : keep_ms_(keep_ms), max_(max_remembered) {}

  // The relay `relay` confirmed holding `frame` for `peer` at `now_ms`.
  void deposited(const std::string& peer, bytes_view frame, const std::string& relay, std::int64_t now_ms);
  // The relay that still holds `frame` for `peer`, as far as we know (deposited within keep_ms and after the
  // peer was last seen online), or nullopt.
  std::optional<std::string> held(const std::string& peer, bytes_view frame, std::int64_t now_ms) const;
  // Evidence that `peer` is online at `now_ms`: what was deposited for it before may have been fetched.
  void seen_online(const std::string& peer, std::int64_t now_ms);

  std::size_t remembered() const { return deposits_.size(); }

 private:
  static std::string key(const std::string& peer, bytes_view frame);
  void trim();

  std::int64_t keep_ms_;
  std::size_t max_;
  struct deposit {
    std::int64_t when;
    std::string relay;
  };
  std::unordered_map<std::string, deposit> deposits_;       // peer "/" BLAKE2b-128(frame) -> when, where
  std::deque<std::string> order_;                           // oldest first, for the bound
  std::unordered_map<std::string, std::size_t> per_peer_;   // peer -> deposits remembered
  std::unordered_map<std::string, std::int64_t> online_;    // peer -> last seen online (peers with deposits only)
};

} // namespace aqua::routing
