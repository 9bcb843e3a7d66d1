// The mailbox's receiving side: frames that arrive during one turn of the
// mailbox are opened with one crypto request (open_many), and the engine
// changes of all of them go into ONE batch with the records they lead to
// (inbox + dedup records, delivered outbox records). The batch is atomic, so
// after a crash either a message is stored and its key spent, or neither —
// exactly as with one batch per message, for a fraction of the hand-offs.

#include <spdlog/spdlog.h>

#include "actors/mailbox_parts.hpp"
#include "e2ee/envelope.hpp"

namespace aqua::actors {
namespace {

using after_fn = std::function<void(const result<void>&)>;

// The in-flight key of a new message (mailbox_state::storing).
std::string storing_key(const std::string& id, const std::array<std::uint8_t, e2ee::tag_size>& tag) {
  return id + std::string(tag.begin(), tag.end());
}

// A new message: its inbox and dedup records join the batch; once durable it
// is handed out and acknowledged. The dedup record keeps the envelope's tag,
// so a later copy that no longer opens can be told to be this sender's.
after_fn stage_new(mailbox_actor_t* self, leveldb::WriteBatch& b, const opened_message& o, delivery::inner in,
                   const queued_frame& q, completion done) {
  auto& st = self->state;
  st.dedup.first_time(o.sender, o.message_id, now_ms());
  delivery::in_record rec;
  rec.seq = st.next_seq++;
  st.arriving.insert(rec.seq);
  rec.message_id = o.message_id;
  rec.sender = o.sender;
  rec.received_ms = now_ms();
  rec.trust = o.trust;
  rec.quarantined = o.quarantined;
  rec.transport = q.transport;
  rec.payload = std::move(in.payload);
  rec.topic = std::move(in.topic);
  delivery::dedup_record d{rec.seq, o.sender, rec.received_ms, std::nullopt};
  std::string storing;
  if (auto tag = e2ee::peek_tag(q.frame)) {  // it opened, so it parses
    d.tag = *tag;
    storing = storing_key(o.message_id, *tag);
    st.storing.insert(storing);
  }
  b.Put(store::hex_key("i/", rec.seq), as_slice(rec.encode()));
  b.Put(delivery::dedup_key(o.sender, o.message_id), as_slice(d.encode()));
  return [self, seq = rec.seq, id = o.message_id, sender = o.sender, storing, done](const result<void>& r) {
    done(r);
    self->state.storing.erase(storing);
    self->state.arriving.erase(seq);
    if (!r) {
      // Not stored: no ack, and the sender's retry must not look like a duplicate.
      self->state.dedup.forget(sender, id);
      spdlog::error("mailbox: cannot store message {}: {}", id, r.err().what());
      return;
    }
    ++self->state.received;
    self->state.unread.push_back(seq);
    serve_waiters(self);
    // Watchers (NDJSON streams, batch readers) get the burst as one batch:
    // one store scan per burst of stored messages, not one per message.
    if (!self->state.watchers.empty() && !self->state.watch_flush_armed) {
      self->state.watch_flush_armed = true;
      self->send(self, watch_flush_atom::value);
    }
    send_ack(self, sender, id);
  };
}

// One envelope that opened: what it adds to the batch, and what runs once
// the batch is durable. Sets `window_moved` for acks.
after_fn stage(mailbox_actor_t* self, leveldb::WriteBatch& b, const queued_frame& q, opened_message& o,
               bool& window_moved) {
  auto& st = self->state;
  if (q.conn != 0) self->send(st.routing, bind_atom::value, q.conn, o.sender);
  // Before the ack goes out (same sender, same receiver: in order): a path for it when no connection is bound.
  if (!o.card_addresses.empty()) self->send(st.routing, learn_atom::value, o.sender, o.card_addresses);
  auto in = delivery::parse_inner(o.inner);
  auto done = q.done;
  if (!in) {
    ++st.rejected;
    spdlog::warn("mailbox: {} from {}: {}", o.message_id, o.sender, in.err().what());
    return [done](const result<void>& r) { done(r); };  // only its engine changes are written
  }
  if (in->type == delivery::inner_ack) {
    for (auto& acked : in->acked)
      if (auto* r = st.out.acked(acked, now_ms())) {
        b.Put("o/" + acked, as_slice(r->encode(false)));
        st.sent_dirty.erase(acked);
      }
    window_moved = true;
    return [self, ids = std::move(in->acked), done](const result<void>& r) {
      done(r);
      if (r)
        for (auto& acked : ids) notify_outcome(self, acked);
    };
  }
  // Same message from the same sender (another path, or a replay after its session was evicted): ack, do not
  // deliver. The same id from another sender is another message (IDs are the senders' choice).
  if (st.dedup.contains(o.sender, o.message_id))
    return [self, done, sender = o.sender, id = o.message_id](const result<void>& r) {
      done(r);
      if (r) send_ack(self, sender, id);
    };
  return stage_new(self, b, o, std::move(*in), q, done);
}

// An envelope that did not open. A copy of something we already accepted (a
// retry, another path, or a replay after our restart, when the spent key is
// no longer even recognised) is acked again, so its sender stops retrying; it
// never reaches the application twice. It cannot be opened, so its sender is
// told by its tag: a copy is the one a d/ record of its message id kept the
// tag of, and only that record's sender is acked. A copy of a message whose
// records are not durable yet waits for the first copy's ack. A record from
// before tags were kept (version 1) is acked to its sender, as it was before
// the index was keyed by sender: that sender did deliver this id.
void not_opened(mailbox_actor_t* self, const queued_frame& q, const error& err) {
  q.done(ok());  // a duplicate or a bad envelope: either way, not to be fetched again
  auto& st = self->state;
  auto id = e2ee::peek_message_id(q.frame);
  auto tag = e2ee::peek_tag(q.frame);
  if (id && tag) {
    if (st.storing.count(storing_key(*id, *tag))) return;
    std::optional<std::string> ack_to, legacy;
    auto scanned = st.setup.db->scan(delivery::dedup_prefix + *id + "/", [&](std::string_view, std::string_view v) {
      auto d = delivery::dedup_record::decode(as_bytes(v));
      if (!d) return true;
      if (d->tag && *d->tag == *tag) {
        ack_to = d->sender;
        return false;
      }
      if (!d->tag && !legacy) legacy = d->sender;
      return true;
    });
    if (!scanned) spdlog::warn("mailbox: cannot read the dedup records of {}: {}", *id, scanned.err().what());
    if (!ack_to) ack_to = legacy;
    if (ack_to) {
      send_ack(self, *ack_to, *id);
      return;
    }
  }
  ++st.rejected;
  const bool held = q.conn == 0;  // from a relay's mailbox, bound_peer = the depositor it reported
  warn_limited(st.rejected_log, now_ms(), "inbox: rejected envelope on {}{}: {}{}", q.transport,
               q.bound_peer.empty() ? std::string(held ? " (depositor not reported)" : " (connection not yet bound to a peer)")
                                    : (held ? " deposited by " : " from ") + q.bound_peer,
               err.what());
}

} // namespace

void incoming(mailbox_actor_t* self, std::uint64_t conn, const std::string& transport, const std::string& bound_peer,
              const bytes& frame, completion done) {
  auto& st = self->state;
  if (!st.intake.push({conn, transport, bound_peer, frame, done}, frame.size())) {
    // Opening is behind by intake.max_bytes(): drop. A live frame's sender retries it; a relay keeps held mail
    // until it is taken (done with an error: fetched again later).
    ++st.rejected;
    warn_limited(st.dropped_log, now_ms(), "inbox: dropped a {}-byte envelope on {}{}: {} MiB of received envelopes wait to be opened",
                 frame.size(), transport, bound_peer.empty() ? std::string() : " from " + bound_peer,
                 st.intake.held_bytes() >> 20);
    done(error{errc::quota_exceeded, "the node has " + std::to_string(st.intake.held_bytes() >> 20) +
                                         " MiB of envelopes waiting to be opened; try again later"});
    return;
  }
  if (!st.open_flush_armed && st.intake.ready()) {
    st.open_flush_armed = true;
    self->send(self, open_flush_atom::value);
  }
}

void flush_incoming(mailbox_actor_t* self) {
  auto& st = self->state;
  st.open_flush_armed = false;
  auto taken = st.intake.take();  // none while max_opens_in_flight batches are out: their answers call again
  if (!taken) return;
  if (st.intake.ready()) {  // the rest on the next turn
    st.open_flush_armed = true;
    self->send(self, open_flush_atom::value);
  }
  auto frames = std::make_shared<std::vector<queued_frame>>(std::move(taken->items));
  auto finished = [self, bytes = taken->bytes] {
    auto& st = self->state;
    st.intake.done(bytes);
    if (!st.open_flush_armed && st.intake.ready()) {
      st.open_flush_armed = true;
      self->send(self, open_flush_atom::value);
    }
  };
  open_requests reqs;
  reqs.reserve(frames->size());
  // Frames held by a relay's mailbox (conn 0) are bounded by its quotas; live connections are not.
  for (auto& q : *frames) reqs.push_back({q.frame, q.bound_peer, q.conn != 0});
  self->request(st.setup.crypto, caf::infinite, open_many_atom::value, std::move(reqs))
    .then(
      [self, frames, finished](opened_messages& outs, const store::ops& changes) {
        finished();
        leveldb::WriteBatch b;
        changes.append_to(b);
        std::vector<after_fn> after;
        bool window_moved = false;
        for (std::size_t i = 0; i < outs.size() && i < frames->size(); ++i) {
          if (outs[i].failure) not_opened(self, (*frames)[i], *outs[i].failure);
          else after.push_back(stage(self, b, (*frames)[i], outs[i], window_moved));
        }
        if (!after.empty() || has_ops(b))
          persist(self, std::move(b), [after = std::move(after)](const result<void>& r) {
            for (auto& f : after) f(r);
          });
        // Acks moved the window: send what it now admits without waiting for the timer.
        if (window_moved)
          for (auto& due : self->state.out.due(now_ms(), self->state.setup.cfg.send_window)) transmit(self, due);
      },
      [frames, finished](const caf::error& e) {  // the crypto actor is gone (stopping): nothing was opened
        finished();
        for (auto& q : *frames) q.done(from_caf(e));
      });
}

} // namespace aqua::actors
