#pragma once
// Private, sans-I/O: the sender's delivery state machine
// (docs/protocol/delivery.md). No clock, no RNG, no store of its own: time
// and jitter come in as arguments, persistence is the caller's (records
// encode to bytes for the store's o/ keys).
//
//   queued --transmit--> sent --ack--> delivered
//      \_______________/  |
//        retry (backoff)  +--ttl passed--> expired

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "aqua/bytes.hpp"

namespace aqua::delivery {

enum class out_state : std::uint8_t { queued = 1, sent = 2, delivered = 3, expired = 4 };
std::string_view to_string(out_state s);

struct retry_policy {
  std::int64_t initial_ms = 500;
  std::int64_t max_ms = 60000;
  double factor = 2.0;
  double jitter = 0.2;  // +-20% of the delay
};

// Keyed BLAKE2b-128 of a message's inner frame (payload and topic, delivery::frame_message) under its message ID
// text: what a repeated send with that ID is compared against, without keeping the plaintext.
std::array<std::uint8_t, 16> content_digest(const std::string& message_id, bytes_view inner);

struct out_record {
  std::string message_id;  // hex
  std::string recipient;   // peer ID
  bytes envelope;          // sealed once; retries resend the same bytes
  // A message queued behind a full send window is stored unsealed: its inner
  // frame (delivery::frame_message) waits here, and it is sealed when it
  // enters the window (envelope set, inner cleared). So at most send_window
  // sealed messages per recipient are ever unacknowledged, and an ack sealed
  // after them cannot put more than that between the receiver's last message
  // and the next (sessions.md: max_missing, max_skip).
  bytes inner;
  out_state state = out_state::queued;
  std::uint32_t attempts = 0;
  std::int64_t created_ms = 0;
  std::int64_t next_attempt_ms = 0;
  std::int64_t expires_ms = 0;
  std::int64_t delivered_ms = 0;
  std::uint64_t seq = 0;  // send order, assigned by outbox::add
  // Why the last attempt failed, or why the message was given up; empty when the last attempt got through or
  // none was made. Kept with the record (so `aqua outbox` still tells after a restart, and for an expired
  // message), at most max_last_error bytes of UTF-8.
  std::string last_error;
  static constexpr std::size_t max_last_error = 4096;
  // content_digest(message_id, inner frame): a send repeating this message_id must carry the same payload and
  // topic (docs/protocol/delivery.md, "Queued"). Absent in records written before 2026-11-27.
  std::optional<std::array<std::uint8_t, 16>> content;

  bool sealed() const { return inner.empty(); }
  // Finished (delivered/expired) records are stored without the envelope or
  // inner frame: never sent again; the store keeps the record for node::outbox().
  bytes encode(bool with_envelope = true) const;
  static result<out_record> decode(bytes_view data);
};

class outbox {
 public:
  explicit outbox(retry_policy p = {}) : policy_(p) {}

  // A message already durable in the store; due at next_attempt_ms (or at
  // once). Keeps a nonzero r.seq (a reload), else assigns the next one.
  void add(out_record r);
  std::uint64_t next_seq() const { return next_seq_; }
  // Takes the next send-order number for a record about to be written, so the
  // first write of a message already carries its place in the send order.
  std::uint64_t reserve_seq() { return next_seq_++; }
  // Whether pending message `id` is among its recipient's `window` oldest
  // pending messages (0 = unlimited), i.e. allowed in flight now.
  bool within_window(const std::string& id, std::size_t window) const;
  // Messages due at `now`, in send order. Callers keep a recipient's retries
  // together (and so in order) by drawing the jitter per recipient and
  // attempt rather than per message.
  // Flow control: only a recipient's `window` oldest pending messages are
  // ever in flight, so the receiver sees sequence numbers within its window
  // (and its skipped-key store) even when a link flaps; 0 = unlimited.
  std::vector<std::string> due(std::int64_t now_ms, std::size_t window = 0) const;
  // A transmission attempt happened: schedule the next one. `failure`: why it failed (empty: it got through), kept
  // as the record's last_error. `unit_random` in [0,1) drives the jitter (injected, for determinism).
  const out_record* transmitted(const std::string& id, std::int64_t now_ms, double unit_random,
                                std::string_view failure = {});
  // The recipient just proved it is reachable (it connected to us): its pending messages whose last attempt failed
  // are due at `now_ms` instead of at their backoff. Messages in flight (last attempt got through, no ack yet) keep
  // their schedule. Returns how many moved.
  std::size_t hasten(const std::string& recipient, std::int64_t now_ms);
  // The recipient's authenticated ack arrived: delivered (idempotent).
  const out_record* acked(const std::string& id, std::int64_t now_ms);
  // Marks every unacked message past its TTL expired; returns their ids.
  std::vector<std::string> expire(std::int64_t now_ms);
  // Gives pending message `id` up now (expired): it can never be sent, e.g. a
  // deferred message whose seal failed for good. False if it is not pending.
  bool give_up(const std::string& id, std::string_view why = {});
  // Earliest next attempt or expiry among pending messages inside their
  // recipient's window (to arm a timer); messages waiting outside the window
  // move when an ack opens it, not on a timer.
  std::optional<std::int64_t> next_wakeup(std::size_t window = 0) const;

  const out_record* find(const std::string& id) const;
  // Drops delivered/expired records from memory (they stay in the store for
  // `aqua outbox`); costs O(records finished since the last call).
  void forget_finished();
  std::size_t pending() const;
  std::size_t pending_for(const std::string& recipient) const;
  // A deferred message was sealed: it carries `envelope` from now on.
  void set_sealed(const std::string& id, bytes envelope);

  std::int64_t backoff_ms(std::uint32_t attempts, double unit_random) const;

 private:
  void index_add(const out_record& r);
  void index_remove(const out_record& r);

  // A pending record in the indexes: its order key and the record itself in
  // records_ (unordered_map nodes do not move). No ID strings are copied.
  using by_seq = std::pair<std::uint64_t, const out_record*>;
  using by_time = std::pair<std::int64_t, const out_record*>;

  retry_policy policy_;
  // Hashed: every message is looked up here several times on its way (add,
  // transmit, ack, forget); a tree of 20k 32-digit IDs made those lookups a
  // fifth of the sending worker's time (perf, bench/transport).
  std::unordered_map<std::string, out_record> records_;
  // Pending (queued or sent) messages only, so due/next_wakeup/expire cost
  // O(recipients x window), not O(everything in the outbox).
  std::map<std::string, std::set<by_seq>> queues_;  // recipient -> its pending records in send order
  std::set<by_time> by_expiry_;                      // all pending records by expires_ms
  std::vector<std::string> finished_;  // delivered or expired since the last forget_finished
  std::uint64_t next_seq_ = 1;
};

} // namespace aqua::delivery
