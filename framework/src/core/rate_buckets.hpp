#pragma once
// Private: token buckets per key (sans-I/O: times in, decisions out), for "at most N new things a second from one
// address" — new TCP connections to a zmq listener (transports/zmq/zmq_guard.hpp) or to the relay's TCP host
// (p2p/tcp_host.hpp), each of which costs a Noise handshake.
//
// Each key has a bucket of `per_s` tokens, refilled at `per_s` a second; take() spends one. A key is forgotten
// once its bucket is full again (sweep(), at most once a second), so memory follows the keys that took a token
// in the last second or so. `per_s` 0: no limit, nothing tracked.

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <unordered_map>

namespace aqua {

template <class Key, class Hash = std::hash<Key>>
class rate_buckets {
 public:
  explicit rate_buckets(std::size_t per_s) : per_s_(per_s) {}

  // One token of `key`'s bucket at `now_ms` (any monotonic milliseconds): false when it has none left.
  bool take(const Key& key, std::int64_t now_ms) {
    if (per_s_ == 0) return true;
    sweep(now_ms);
    auto [it, fresh] = buckets_.try_emplace(key, bucket{static_cast<double>(per_s_), now_ms});
    if (!fresh) refill(it->second, now_ms);
    if (it->second.tokens < 1) return false;
    it->second.tokens -= 1;
    return true;
  }

  // Forgets keys whose bucket is full again; at most once a second, so callers may call it on every event.
  void sweep(std::int64_t now_ms) {
    if (now_ms - swept_ms_ < 1000) return;
    swept_ms_ = now_ms;
    for (auto it = buckets_.begin(); it != buckets_.end();)
      it = refill(it->second, now_ms) ? buckets_.erase(it) : std::next(it);
  }

  std::size_t per_s() const { return per_s_; }
  std::size_t tracked() const { return buckets_.size(); }

 private:
  struct bucket {
    double tokens = 0;
    std::int64_t refilled_ms = 0;
  };
  // Refills `b` up to now; whether it is full.
  bool refill(bucket& b, std::int64_t now_ms) const {
    const double cap = static_cast<double>(per_s_);
    if (now_ms > b.refilled_ms) {
      b.tokens = std::min(cap, b.tokens + cap * static_cast<double>(now_ms - b.refilled_ms) / 1000.0);
      b.refilled_ms = now_ms;
    }
    return b.tokens >= cap;
  }

  std::size_t per_s_;
  std::unordered_map<Key, bucket, Hash> buckets_;
  std::int64_t swept_ms_ = 0;
};

} // namespace aqua
