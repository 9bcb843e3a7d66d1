#pragma once
// Private: envelopes a relay holds for offline peers (the network mailbox,
// docs/protocol/mailbox.md), under the store's `m/` prefix (key layout in
// docs/storage.md, "Held mail").
//
//   auto hm = held_mail::open(db, limits_of(cfg.relay)).value();
//   hm->put(recipient, envelope, ttl_s, now_ms, depositor, [](result<put_outcome> r) { ... });  // durable (or refused)
//   hm->list(recipient, after_id, 64, 8 << 20);     // oldest first
//   hm->ack(recipient, {ids});                       // deletes (only that recipient's)
//   hm->expire(now_ms);                              // drops mail past its expiry
//
// Idempotent by the SHA-256 of the envelope; quotas per recipient and in
// total, and min_free_bytes left on the disk; TTL capped by max_ttl_s and by the envelope's own expiry. Writes go
// through the store's group committer (synced). Thread-safe: calls may come
// from any thread; `done` callbacks run exactly once, on the calling thread
// (refusals, duplicates already durable) or on the committer thread.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "aqua/bytes.hpp"
#include "aqua/config.hpp"
#include "aqua/error.hpp"
#include "aqua/identity.hpp"
#include "store/free_space.hpp"
#include "store/store.hpp"

namespace aqua::store {

struct held_mail_limits {
  std::uint32_t max_messages_per_peer = 10000;
  std::uint64_t max_bytes_per_peer = 64ull << 20;
  std::uint64_t max_bytes_total = 1ull << 30;
  std::uint32_t max_ttl_s = 7 * 86400;
  std::size_t max_envelope = 4u << 20;
  // A deposit that would leave less than this free on the store's filesystem is refused (quota_exceeded)
  // instead of filling the disk, which would stop the store (store/free_space.hpp).
  std::uint64_t min_free_bytes = 256ull << 20;
  free_space_probe free_space;  // empty: statvfs of the store's directory (tests simulate a full disk)
  std::int64_t free_space_cache_ms = free_space_guard::default_cache_ms;  // a probe's answer is reused this long
};
held_mail_limits limits_of(const relay_config& relay);

struct held_envelope {
  std::uint64_t id = 0;
  bytes envelope;
  std::int64_t expires_ms = 0;
  std::string depositor;  // peer ID text of the peer that deposited it; empty for mail held before it was recorded
};

enum class put_outcome : std::uint8_t { stored, duplicate };

struct held_mail_stats {
  std::uint64_t messages = 0;     // held now (including writes in flight)
  std::uint64_t bytes = 0;
  std::uint64_t recipients = 0;
  std::uint64_t stored = 0;       // counters since open
  std::uint64_t duplicates = 0;
  std::uint64_t refused = 0;
  std::uint64_t acked = 0;
  std::uint64_t expired = 0;
};

class held_mail {
 public:
  // Reads the `m/h/` index to rebuild the counters. store errors.
  static result<std::unique_ptr<held_mail>> open(std::shared_ptr<db> store, held_mail_limits limits);
  ~held_mail();
  held_mail(const held_mail&) = delete;
  held_mail& operator=(const held_mail&) = delete;

  using put_done = std::function<void(result<put_outcome>)>;
  // Holds `envelope` (an aqua envelope addressed to `recipient`, deposited
  // by `depositor`) for at most ttl_s (0 = max_ttl_s) seconds. A duplicate
  // keeps the first deposit's depositor. done: stored / duplicate once durable, or
  // frame_too_large, quota_exceeded (also when the disk is nearly full),
  // message_expired, bad_envelope (not an envelope for `recipient`), or the
  // store's error (io_error too when the free space cannot be read).
  void put(const peer_id& recipient, bytes_view envelope, std::uint32_t ttl_s, std::int64_t now_ms,
           const peer_id& depositor, put_done done);
  // The recipient's mail with id > after_id, oldest first: at most
  // max_count items and max_bytes of envelopes (the first item always fits).
  // Mail being deleted is left out.
  result<std::vector<held_envelope>> list(const peer_id& recipient, std::uint64_t after_id, std::size_t max_count,
                                          std::size_t max_bytes) const;
  // Deletes the recipient's mail with these ids (others, and unknown ids,
  // are ignored); returns how many it deletes. done (optional): durable.
  result<std::size_t> ack(const peer_id& recipient, std::span<const std::uint64_t> ids,
                          std::function<void(result<void>)> done = {});
  // Deletes up to `max` messages whose expiry is <= now_ms; returns how many.
  result<std::size_t> expire(std::int64_t now_ms, std::size_t max = 1024, std::function<void(result<void>)> done = {});
  // The earliest expiry held (durable mail only), if any.
  result<std::optional<std::int64_t>> next_expiry() const;
  held_mail_stats stats() const;
  const held_mail_limits& limits() const { return limits_; }

  struct state;  // shared with the committer callbacks

 private:
  held_mail(std::shared_ptr<db> store, held_mail_limits limits);
  struct doomed {
    std::string recipient;
    std::uint64_t id = 0;
    std::string hash_hex;
    std::int64_t expires_ms = 0;
    std::uint64_t size = 0;
  };
  void delete_batch(std::vector<doomed> items, bool expired, std::function<void(result<void>)> done);

  std::shared_ptr<db> store_;
  held_mail_limits limits_;
  std::shared_ptr<state> state_;
};

} // namespace aqua::store
