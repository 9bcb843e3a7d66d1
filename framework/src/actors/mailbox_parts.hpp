#pragma once
// Private: the mailbox actor's state and the steps it is built from
// (mailbox_parts.cpp), kept apart from its behaviour (mailbox_actor.cpp).

#include <functional>
#include <map>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/log_limit.hpp"
#include "actors/protocol.hpp"
#include "delivery/dedup.hpp"
#include "delivery/intake.hpp"
#include "delivery/message_views.hpp"
#include "delivery/records.hpp"
#include "store/store.hpp"

namespace aqua::actors {

// A frame waiting for the next open_many (see mailbox_incoming.cpp).
struct queued_frame {
  std::uint64_t conn = 0;
  std::string transport, bound_peer;
  bytes frame;
  completion done;
};

// A send waiting for the next seal_many (flush_sends).
struct queued_send {
  seal_request req;
  answer<std::string> reply;  // the message id once durable
};

struct mailbox_state {
  struct waiter {
    std::uint64_t token;
    answer<inbound_message> reply;
  };
  mailbox_setup setup;
  caf::actor routing;
  std::uint64_t next_seq = 1;
  std::deque<std::uint64_t> unread;  // in sequence order
  std::set<std::uint64_t> arriving;  // sequence numbers given to new messages whose records are not durable yet
  std::deque<waiter> waiting;
  struct watcher {
    std::uint64_t token;
    std::uint64_t after;  // wants messages with a larger sequence number
    std::size_t max;
    std::size_t max_bytes;  // 0: no bound
    answer<message_list> reply;
  };
  std::vector<watcher> watchers;
  // message id -> (token, answer) of callers waiting for delivered/expired
  std::multimap<std::string, std::pair<std::uint64_t, answer<outbound_message>>> awaiting;
  std::uint64_t next_token = 1;
  delivery::outbox out;
  delivery::dedup_window dedup;
  // message id + envelope tag of new messages whose records are not durable yet (not_opened)
  std::unordered_set<std::string> storing;
  std::unordered_set<std::string> in_flight;  // transmissions awaiting routing's answer
  std::map<std::string, std::vector<std::string>> acks_due;  // peer -> message ids to ack (send_ack)
  std::map<std::uint64_t, std::function<void(const result<void>&)>> on_durable;
  std::unordered_set<std::string> sent_dirty;  // attempts not yet written (flush_sent)
  bool sent_flush_armed = false;
  bool watch_flush_armed = false;  // a watch_flush to self is queued (serve_watchers once per burst)
  // Frames waiting to be opened (flush_incoming): bounded in bytes and in open_many requests out (delivery/intake.hpp).
  delivery::intake<queued_frame> intake{0, 1, 1};  // sized in mailbox_actor from setup.max_inner
  bool open_flush_armed = false;  // an open_flush to self is queued
  log_limit dropped_log;          // "dropped a frame" lines: peers choose how many
  std::vector<queued_send> seal_queue;   // sends for the next seal_many (flush_sends)
  std::vector<std::string> seal_later;   // deferred messages that entered their window (seal_deferred)
  std::unordered_set<std::string> sealing;  // deferred messages being sealed and written
  log_limit rejected_log;  // "rejected envelope" lines: peers choose how many (core/log_limit.hpp)
  // recipient -> sends taken by flush_sends whose records are not in `out` yet (they count towards the window)
  std::unordered_map<std::string, std::size_t> sends_unsettled;
  // message id -> (recipient, content digest) of the sends that named their id and were taken by flush_sends but
  // are not in `out` yet: a repeat arriving meanwhile is checked against them (send_atom), not sealed again.
  std::unordered_map<std::string, std::pair<std::string, std::array<std::uint8_t, 16>>> named_unsettled;
  bool timer_armed = false;
  std::mt19937_64 rng;
  std::uint64_t jitter_salt = 0;  // per run, so peers do not retry in lockstep
  std::uint64_t received = 0, rejected = 0;
  static inline const char* name = "aqua.mailbox";
};

using mailbox_actor_t = caf::stateful_actor<mailbox_state>;

std::int64_t now_ms();
using store::as_slice;
using delivery::to_inbound;
using delivery::to_outbound;

// Whether `b` holds any operation (an empty WriteBatch is its 12-byte header).
inline bool has_ops(const leveldb::WriteBatch& b) { return b.ApproximateSize() > 12; }
// Submits `b` to the group committer; `cont` runs inside the actor once the
// batch is durable (or failed).
void persist(mailbox_actor_t* self, leveldb::WriteBatch&& b, std::function<void(const result<void>&)> cont = {});
// Writes `changes` (the crypto actor's) in order with every other batch, then calls `cont`; at once without any.
void persist_then(mailbox_actor_t* self, const store::ops& changes, std::function<void(const result<void>&)> cont);
result<void> load_from_store(mailbox_actor_t* self);

void transmit(mailbox_actor_t* self, const std::string& id);
void on_tick(mailbox_actor_t* self);
void arm_timer(mailbox_actor_t* self);
// Queues a frame; the frames of one turn are opened together by
// flush_incoming (on open_flush). `done` runs once the frame's outcome is
// durable (stored, acked, or rejected for good) or with the store's error.
// Takes up to `max` items from the front of `queue` (all of them if fewer);
// `more` is called when some stay behind, to schedule the next batch.
template <class T, class More>
std::shared_ptr<std::vector<T>> take_batch(std::vector<T>& queue, std::size_t max, More more) {
  auto batch = std::make_shared<std::vector<T>>();
  if (queue.size() <= max) {
    batch->swap(queue);
    return batch;
  }
  auto cut = queue.begin() + static_cast<std::ptrdiff_t>(max);
  batch->assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(cut));
  queue.erase(queue.begin(), cut);
  more();
  return batch;
}
inline constexpr std::size_t max_open_batch = 256;
inline constexpr std::size_t max_opens_in_flight = 2;  // open_many requests out at once: the next batch is ready
// Bytes of received frames that may wait to be opened: this, or 4 of the largest frames if that is more.
inline constexpr std::size_t intake_bytes = 64u << 20;
inline constexpr std::size_t max_seal_batch = 256;
// Seals the queued sends with one crypto request and writes their outbox
// records with the engine changes in one batch; each caller gets its message
// id once that batch is durable, and the message goes out. A send behind its
// recipient's full send window is written unsealed instead (out_record::inner)
// and sealed when it enters the window: transmit() queues it for
// seal_deferred, which flush_sends runs first.
void flush_sends(mailbox_actor_t* self);
void seal_deferred(mailbox_actor_t* self);
void flush_incoming(mailbox_actor_t* self);
void incoming(mailbox_actor_t* self, std::uint64_t conn, const std::string& transport, const std::string& bound_peer,
              const bytes& frame, completion done = {});
result<inbound_message> take_unread(mailbox_actor_t* self);
// The stored inbox record of `seq`; errc::not_found if there is none.
result<delivery::in_record> inbox_record(mailbox_actor_t* self, std::uint64_t seq);
// Hands unread messages to the waiting receive callers, oldest first.
void serve_waiters(mailbox_actor_t* self);
// Up to `max` stored messages with sequence > after, in order (none marked read).
result<message_list> inbox_after(mailbox_actor_t* self, std::uint64_t after, std::size_t max, std::size_t max_bytes = 0);
// Answers watchers that now have messages; called after a message is stored.
void serve_watchers(mailbox_actor_t* self);
// Answers callers awaiting message `id`'s outcome once it is delivered or expired.
void notify_outcome(mailbox_actor_t* self, const std::string& id);
inline constexpr std::size_t max_ack_ids = 1024;  // delivery::frame_ack's limit
inline constexpr std::chrono::milliseconds sent_flush_delay{250};
// Queues an ack of `id` to `peer`; flush_acks (on ack_flush) seals and sends the queue as one frame.
void send_ack(mailbox_actor_t* self, const std::string& peer, const std::string& id);
void flush_acks(mailbox_actor_t* self, const std::string& peer);
// Writes the attempt state (sent, attempts, next attempt) of the messages
// transmitted since the last flush, in one batch; see transmit().
void flush_sent(mailbox_actor_t* self, std::function<void(const result<void>&)> done);

} // namespace aqua::actors
