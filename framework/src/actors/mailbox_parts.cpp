#include "actors/mailbox_parts.hpp"

#include <spdlog/spdlog.h>

#include "e2ee/envelope.hpp"

namespace aqua::actors {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void persist(mailbox_actor_t* self, leveldb::WriteBatch&& b, std::function<void(const result<void>&)> cont) {
  auto token = self->state.next_token++;
  if (cont) self->state.on_durable[token] = std::move(cont);
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self);
  self->state.setup.db->submit_or_write(std::move(b), [weak, token](const result<void>& r) {
    if (auto strong = weak.lock())
      caf::anon_send(caf::actor_cast<caf::actor>(strong), durable_atom::value, token,
                     r ? std::uint16_t{0} : static_cast<std::uint16_t>(r.err().code()),
                     r ? std::string() : r.err().message());
  });
}

void persist_then(mailbox_actor_t* self, const store::ops& changes, std::function<void(const result<void>&)> cont) {
  leveldb::WriteBatch b;
  changes.append_to(b);
  if (!has_ops(b)) return cont(ok());
  persist(self, std::move(b), std::move(cont));
}

result<void> load_from_store(mailbox_actor_t* self) {
  auto& st = self->state;
  auto now = now_ms();
  auto highest = st.setup.db->get(delivery::inbox_seq_key);
  if (!highest) return highest.err();
  if (*highest) {
    if (auto v = delivery::decode_inbox_seq(as_bytes(**highest))) st.next_seq = std::max(st.next_seq, *v + 1);
    else  // only the stored messages' numbers are known: one deleted last may see its number again
      spdlog::warn("mailbox: {} is not a sequence number (8 bytes, below 2^64-1; it has {} bytes); ignored",
                   delivery::inbox_seq_key, (*highest)->size());
  }
  // Records that do not decode (a newer aqua's, or damaged) are skipped, never silently: counted and warned about.
  std::size_t unreadable_in = 0, unreadable_out = 0;
  auto r = st.setup.db->scan("i/", [&](std::string_view, std::string_view v) {
    if (auto rec = delivery::in_record::decode(as_bytes(v))) {
      st.next_seq = std::max(st.next_seq, rec->seq + 1);
      if (rec->state == delivery::in_state::unread) st.unread.push_back(rec->seq);
    } else {
      ++unreadable_in;
    }
    return true;
  });
  if (!r) return r;
  r = st.setup.db->scan("o/", [&](std::string_view, std::string_view v) {
    auto rec = delivery::out_record::decode(as_bytes(v));
    if (!rec) ++unreadable_out;
    else if (rec->state == delivery::out_state::queued || rec->state == delivery::out_state::sent) {
      rec->next_attempt_ms = now;  // retry at once after a restart
      st.out.add(*rec);
    }
    return true;
  });
  if (!r) return r;
  if (unreadable_in + unreadable_out)
    spdlog::warn("mailbox: {} inbox and {} outbox records do not decode (written by a newer aqua, or damaged): "
                 "those messages are not handed out or retried; 'aqua store check' names them",
                 unreadable_in, unreadable_out);
  // d/<id>/<sender> records; d/<id> ones (written before the index was keyed by sender) are moved to their
  // sender's key, in one batch before anything else runs, so pruning and lookups only know the new layout.
  leveldb::WriteBatch moved;
  r = st.setup.db->scan(delivery::dedup_prefix, [&](std::string_view k, std::string_view v) {
    auto rest = k.substr(delivery::dedup_prefix.size());
    auto slash = rest.find('/');
    auto d = delivery::dedup_record::decode(as_bytes(v));
    if (!d) return true;
    std::string id(rest.substr(0, slash));
    if (slash == std::string_view::npos) {
      moved.Delete(leveldb::Slice(k.data(), k.size()));
      moved.Put(delivery::dedup_key(d->sender, id), leveldb::Slice(v.data(), v.size()));
    } else if (rest.substr(slash + 1) != d->sender) {
      return true;  // not a record the mailbox writes
    }
    st.dedup.first_time(d->sender, id, d->seen_ms);
    return true;
  });
  if (!r || !has_ops(moved)) return r;
  return st.setup.db->write(std::move(moved));
}

void transmit(mailbox_actor_t* self, const std::string& id) {
  auto& st = self->state;
  auto* rec = st.out.find(id);
  if (!rec) return;
  if (!rec->sealed()) {  // entered its window: sealed (and written) first, then sent
    if (st.sealing.insert(id).second) {
      st.seal_later.push_back(id);
      if (st.seal_later.size() == 1) self->send(self, seal_flush_atom::value);
    }
    return;
  }
  if (!st.in_flight.insert(id).second) return;
  // `why`: why it failed; when sent, the relay whose mailbox holds it (empty: a connection took it).
  auto after = [self, id](bool sent, const std::string& why) {
    auto& s = self->state;
    s.in_flight.erase(id);
    if (!sent) spdlog::debug("mailbox: attempt for {} failed: {}", id, why);
    auto* cur = s.out.find(id);
    if (!cur) return;
    // One jitter draw per (recipient, attempt): a recipient's messages stay
    // together, so a link that comes back gets them in send order.
    auto draw = std::hash<std::string>{}(cur->recipient) ^ (cur->attempts * 0x9e3779b97f4a7c15ull) ^ s.jitter_salt;
    double unit = static_cast<double>(draw % 1000000) / 1000000.0;
    // A retry that got through still says why the message is not delivered yet: transports take frames for a
    // peer that is gone (ZeroMQ queues them, a relay mailbox holds them) and only the ack tells.
    std::string note = sent ? std::string() : why;
    if (sent && !why.empty())
      note = "held on the mailbox of relay " + why + " (attempt " +
             std::to_string(cur->attempts + 1) + "): it hands the message over when " + cur->recipient +
             " checks in; not acknowledged yet";
    else if (sent && cur->attempts >= 1)
      note = "not acknowledged after " + std::to_string(cur->attempts + 1) +
             " attempts, each handed to a connection (perhaps still connecting) or a relay mailbox: the peer may be "
             "offline, or its address taken by another node ('aqua doctor " + cur->recipient + "' shows why the "
             "connections failed)";
    if (auto* r = s.out.transmitted(id, now_ms(), unit, note); r && r->state == delivery::out_state::sent) {
      // The attempt's bookkeeping is written lazily, in one batch per
      // sent_flush_delay: a restart retries queued and sent messages alike,
      // so only `aqua outbox` can tell, and most messages are acked (and
      // written as delivered) before the flush — a full record write saved.
      s.sent_dirty.insert(id);
      if (!s.sent_flush_armed) {
        s.sent_flush_armed = true;
        self->delayed_send(self, sent_flush_delay, sent_flush_atom::value);
      }
    }
    arm_timer(self);
  };
  self->request(st.routing, caf::infinite, transmit_atom::value, rec->recipient, rec->envelope, true)
    .then([after](const std::string& held_by) { after(true, held_by); },
          [after](const caf::error& e) { after(false, from_caf(e).what()); });
}

void flush_sent(mailbox_actor_t* self, std::function<void(const result<void>&)> done) {
  auto& st = self->state;
  st.sent_flush_armed = false;
  leveldb::WriteBatch b;
  bool any = false;
  for (auto& id : st.sent_dirty)
    if (auto* r = st.out.find(id); r && r->state == delivery::out_state::sent) {
      b.Put("o/" + id, as_slice(r->encode()));
      any = true;
    }
  st.sent_dirty.clear();
  if (any) persist(self, std::move(b), std::move(done));
  else done(ok());
}

void on_tick(mailbox_actor_t* self) {
  auto& st = self->state;
  auto now = now_ms();
  auto expired = st.out.expire(now);
  if (!expired.empty()) {
    leveldb::WriteBatch b;
    for (auto& id : expired) {
      spdlog::warn("mailbox: message {} expired undelivered", id);
      b.Put("o/" + id, as_slice(st.out.find(id)->encode(false)));
    }
    persist(self, std::move(b), [self, expired](const result<void>&) {
      for (auto& id : expired) notify_outcome(self, id);
    });
  }
  for (auto& id : st.out.due(now, st.setup.cfg.send_window)) transmit(self, id);
  st.out.forget_finished();
  leveldb::WriteBatch pruned;
  bool any = false;
  for (auto& e : st.dedup.prune(now)) {
    pruned.Delete(delivery::dedup_key(e.sender, e.message_id));
    any = true;
  }
  if (any) persist(self, std::move(pruned));
}

void arm_timer(mailbox_actor_t* self) {
  auto& st = self->state;
  if (st.timer_armed) return;
  auto next = st.out.next_wakeup(st.setup.cfg.send_window);
  if (!next) return;
  auto delay = std::clamp<std::int64_t>(*next - now_ms(), 5, 1000);
  st.timer_armed = true;
  self->delayed_send(self, std::chrono::milliseconds(delay), tick_atom::value);
}

// Acks are coalesced per peer: ids queued while the actor works through a
// burst (e.g. one group commit's continuations) leave as one sealed ack
// frame (up to max_ack_ids), flushed on the next turn of the mailbox.
void send_ack(mailbox_actor_t* self, const std::string& peer, const std::string& id) {
  auto& ids = self->state.acks_due[peer];
  ids.push_back(id);
  if (ids.size() == 1) self->send(self, ack_flush_atom::value, peer);
}

void flush_acks(mailbox_actor_t* self, const std::string& peer) {
  auto& st = self->state;
  auto it = st.acks_due.find(peer);
  if (it == st.acks_due.end()) return;
  std::vector<std::string> ids;
  if (it->second.size() <= max_ack_ids) {
    ids = std::move(it->second);
    st.acks_due.erase(it);
  } else {
    ids.assign(it->second.begin(), it->second.begin() + max_ack_ids);
    it->second.erase(it->second.begin(), it->second.begin() + max_ack_ids);
    self->send(self, ack_flush_atom::value, peer);  // the rest on the next turn
  }
  auto id = ids.size() == 1 ? ids.front() : std::to_string(ids.size()) + " messages";
  self->request(st.setup.crypto, caf::infinite, seal_atom::value, peer, delivery::frame_ack(ids), std::uint64_t{0},
                std::string())
    .then(
      [=](const bytes& env, const std::string&, std::int64_t, const store::ops& changes) {
        leveldb::WriteBatch b;
        changes.append_to(b);
        // The ratchet step behind the ack is durable before the ack leaves.
        persist(self, std::move(b), [=](const result<void>& r) {
          if (!r) return;  // not durable: the ack is not sent; the sender's retry will get one
          self->request(self->state.routing, caf::infinite, transmit_atom::value, peer, env, false)  // an ack
            .then([](const std::string&) {}, [=](const caf::error& e) {
              spdlog::debug("mailbox: ack for {} not sent: {}", id, from_caf(e).what());
            });
        });
      },
      [=](const caf::error& e) { spdlog::warn("mailbox: cannot ack {} to {}: {}", id, peer, from_caf(e).what()); });
}


void serve_waiters(mailbox_actor_t* self) {
  auto& st = self->state;
  while (!st.waiting.empty() && !st.unread.empty()) {
    auto w = std::move(st.waiting.front());
    st.waiting.pop_front();
    w.reply(take_unread(self));
  }
}

result<delivery::in_record> inbox_record(mailbox_actor_t* self, std::uint64_t seq) {
  auto raw = self->state.setup.db->get(store::hex_key("i/", seq));
  if (!raw) return raw.err();
  if (!raw->has_value()) return error{errc::not_found, "no message with sequence " + std::to_string(seq)};
  return delivery::in_record::decode(as_bytes(**raw));
}

result<inbound_message> take_unread(mailbox_actor_t* self) {
  auto& st = self->state;
  auto seq = st.unread.front();
  st.unread.pop_front();
  auto key = store::hex_key("i/", seq);
  auto raw = st.setup.db->get(key);
  if (!raw) return raw.err();
  if (!raw->has_value()) return error{errc::not_found, "inbox record " + key + " vanished"};
  auto rec = delivery::in_record::decode(as_bytes(**raw));
  if (!rec) return rec.err();
  rec->state = delivery::in_state::read;
  leveldb::WriteBatch b;
  b.Put(key, as_slice(rec->encode()));
  persist(self, std::move(b));
  return to_inbound(*rec);
}

result<message_list> inbox_after(mailbox_actor_t* self, std::uint64_t after, std::size_t max, std::size_t max_bytes) {
  message_list out;
  std::size_t bytes = 0;
  auto r = self->state.setup.db->scan(
    "i/",
    [&](std::string_view, std::string_view v) {
      if (auto rec = delivery::in_record::decode(as_bytes(v)); rec && rec->seq > after) {
        out.push_back(to_inbound(*rec));
        bytes += out.back().payload.size();
      }
      return (max == 0 || out.size() < max) && (max_bytes == 0 || bytes < max_bytes);
    },
    store::hex_key("i/", after));
  if (!r) return r.err();
  return out;
}

void serve_watchers(mailbox_actor_t* self) {
  auto& ws = self->state.watchers;
  for (auto it = ws.begin(); it != ws.end();) {
    auto list = inbox_after(self, it->after, it->max, it->max_bytes);
    if (list && list->empty()) {
      ++it;
      continue;
    }
    it->reply(std::move(list));
    it = ws.erase(it);
  }
}

void notify_outcome(mailbox_actor_t* self, const std::string& id) {
  auto& st = self->state;
  auto range = st.awaiting.equal_range(id);
  if (range.first == range.second) return;
  auto raw = st.setup.db->get("o/" + id);
  std::optional<delivery::out_record> rec;
  if (raw && raw->has_value())
    if (auto r = delivery::out_record::decode(as_bytes(**raw))) rec = std::move(*r);
  if (!rec || (rec->state != delivery::out_state::delivered && rec->state != delivery::out_state::expired)) return;
  for (auto it = range.first; it != range.second; ++it) it->second.second(to_outbound(*rec));
  st.awaiting.erase(range.first, range.second);
}

} // namespace aqua::actors
