#pragma once
// Private: the resource policy of a circuit relay v2 server (the HOP side),
// sans-I/O: callers pass the clock in and act on the decisions (sign the
// voucher, open the STOP stream, copy bytes, enforce the circuit limits).
//
// Defaults follow go-libp2p's relay.DefaultResources(): 128 reservations,
// 8 per IP, 16 circuits per peer, 1 h reservation TTL, circuits limited to
// 2 min and 128 KiB per direction. One reservation per peer: reserving again
// refreshes it (go-libp2p and js-libp2p do the same). Additionally a source
// peer may start at most `max_connects_per_window` CONNECTs per window. Every
// CONNECT that reaches the policy counts, refused ones too (NO_RESERVATION,
// circuit limits): the budget is on requests, so a source cannot probe
// without bound which peers hold reservations. rust-libp2p's circuit rate
// limiters count the same way; go-libp2p has none (the spec names no limit).
//
// Every refusal carries the relay v2 status code to answer with:
//   reserve: PERMISSION_DENIED (over a relayed connection),
//            RESERVATION_REFUSED (total or per-IP limit)
//   connect: PERMISSION_DENIED (over a relayed connection),
//            RESOURCE_LIMIT_EXCEEDED (connect rate, circuits per peer),
//            NO_RESERVATION (destination has none, or it expired)

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "aqua/identity.hpp"
#include "p2p/relay_messages.hpp"

namespace aqua::p2p::relay {

struct hop_config {
  std::size_t max_reservations = 128;
  std::size_t max_reservations_per_ip = 8;
  std::size_t max_circuits = 16;  // open circuits per peer, as source or destination
  std::int64_t reservation_ttl_ms = 60 * 60 * 1000;
  bool limited = true;                   // false: no Limit is sent, circuits are unlimited
  std::uint32_t limit_duration_s = 120;  // sent as Limit.duration (seconds, per spec)
  std::uint64_t limit_data = 128 * 1024; // sent as Limit.data (bytes per direction)
  std::size_t max_connects_per_window = 32;  // per source peer, refused CONNECTs included; 0 = no rate limit
  std::int64_t connect_window_ms = 60 * 1000;
};

// A decision: the granted value, or the status code to answer with.
template <class T>
class outcome {
 public:
  outcome(T value) : value_(std::move(value)) {}
  outcome(relay::status code, std::string reason) : code_(code), reason_(std::move(reason)) {}
  explicit operator bool() const noexcept { return value_.has_value(); }
  const T& value() const { return *value_; }
  const T& operator*() const { return *value_; }
  const T* operator->() const { return &*value_; }
  relay::status code() const noexcept { return code_; }  // status::ok when granted
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::optional<T> value_;
  relay::status code_ = relay::status::ok;
  std::string reason_;
};

struct reservation_grant {
  std::int64_t expire_ms = 0;         // the reservation lapses at this time
  std::uint64_t expire_s = 0;         // Reservation.expire and the voucher's expiration (unix s)
  std::optional<relay::limit> limit;  // Limit for the STATUS OK reply; nullopt = unlimited
  bool refreshed = false;             // the peer already had one
};

struct circuit_grant {
  std::uint64_t id = 0;               // pass to circuit_closed()
  std::optional<relay::limit> limit;  // for HOP STATUS OK and STOP CONNECT
  std::int64_t deadline_ms = 0;       // reset both streams then; 0 = no duration limit
  std::uint64_t data_limit = 0;       // bytes per direction; 0 = none
};

struct hop_stats {
  std::size_t reservations = 0;  // active now
  std::size_t circuits = 0;      // open now
  std::uint64_t reservations_granted = 0;
  std::uint64_t reservations_refreshed = 0;
  std::uint64_t reservations_refused = 0;
  std::uint64_t reservations_expired = 0;
  std::uint64_t reservations_dropped = 0;  // the peer disconnected
  std::uint64_t connects_granted = 0;
  std::uint64_t connects_refused = 0;
  std::uint64_t circuits_closed = 0;
};

class hop_policy {
 public:
  explicit hop_policy(hop_config config = {});

  // A RESERVE from `peer`, connected from `ip` (the textual IP of the
  // connection; "" if it has none: all such peers share one per-IP bucket).
  outcome<reservation_grant> reserve(const peer_id& peer, std::string_view ip, std::int64_t now_ms,
                                     bool over_relayed_connection = false);
  // A CONNECT from `src` to `dst`. On success the circuit counts against
  // both peers until circuit_closed(id), also when the STOP handshake fails.
  outcome<circuit_grant> connect(const peer_id& src, const peer_id& dst, std::int64_t now_ms,
                                 bool over_relayed_connection = false);
  // Idempotent; unknown ids are ignored.
  void circuit_closed(std::uint64_t circuit_id);
  // Reservations are only valid while the peer stays connected (spec).
  void peer_disconnected(const peer_id& peer);
  // Drops reservations with expire_ms <= now and stale rate windows;
  // returns the number of reservations dropped. Call it periodically.
  std::size_t expire(std::int64_t now_ms);

  bool has_reservation(const peer_id& peer, std::int64_t now_ms) const;
  hop_stats stats() const;
  const hop_config& config() const noexcept { return config_; }
  // The Limit we send (seconds per spec), or nullopt when unlimited.
  std::optional<relay::limit> wire_limit() const;

 private:
  struct rsvp {
    std::string ip;
    std::int64_t expire_ms = 0;
  };
  struct window {
    std::int64_t start_ms = 0;
    std::size_t count = 0;
  };
  void drop(std::map<peer_id, rsvp>::iterator it);
  std::size_t& circuits_of(const peer_id& p) { return circuits_per_peer_[p]; }
  void release(const peer_id& p);

  hop_config config_;
  std::map<peer_id, rsvp> reservations_;
  std::map<std::string, std::size_t, std::less<>> per_ip_;
  std::map<peer_id, std::size_t> circuits_per_peer_;
  std::map<std::uint64_t, std::pair<peer_id, peer_id>> circuits_;
  std::map<peer_id, window> connect_windows_;
  std::uint64_t next_circuit_ = 1;
  hop_stats stats_;
};

} // namespace aqua::p2p::relay
