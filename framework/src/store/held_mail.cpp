// held_mail: the network mailbox's records under m/ (docs/storage.md, "Held mail").
#include "store/held_mail.hpp"

#include <algorithm>

#include "core/codec.hpp"
#include "e2ee/envelope.hpp"
#include "store/held_mail_records.hpp"

namespace aqua::store {

using namespace held_records;

struct held_mail::state {
  struct usage {
    std::uint64_t messages = 0, bytes = 0;
  };
  struct waiter {
    bool duplicate = false;
    put_done done;
  };
  std::mutex mu;
  std::uint64_t last_id = 0;
  std::map<std::string, usage> per_peer;
  usage total;
  std::map<std::string, std::vector<waiter>> pending_puts;    // hash hex -> callers waiting for that write
  std::set<std::pair<std::string, std::uint64_t>> deleting;   // (recipient, id) deletes in flight
  held_mail_stats counters;
  std::optional<free_space_guard> disk;  // room left on the store's filesystem

  void add(const std::string& peer, std::uint64_t size) {
    auto& u = per_peer[peer];
    ++u.messages, u.bytes += size;
    ++total.messages, total.bytes += size;
  }
  void remove(const std::string& peer, std::uint64_t size) {
    auto it = per_peer.find(peer);
    if (it != per_peer.end()) {
      it->second.messages -= std::min<std::uint64_t>(it->second.messages, 1);
      it->second.bytes -= std::min(it->second.bytes, size);
      if (it->second.messages == 0) per_peer.erase(it);
    }
    total.messages -= std::min<std::uint64_t>(total.messages, 1);
    total.bytes -= std::min(total.bytes, size);
  }
};

held_mail_limits limits_of(const relay_config& relay) {
  held_mail_limits l;
  l.max_messages_per_peer = relay.mailbox_max_messages_per_peer;
  l.max_bytes_per_peer = relay.mailbox_max_bytes_per_peer;
  l.max_bytes_total = relay.mailbox_max_bytes_total;
  l.max_ttl_s = relay.mailbox_max_ttl_s;
  l.min_free_bytes = relay.mailbox_min_free_bytes;
  return l;
}

held_mail::held_mail(std::shared_ptr<db> store, held_mail_limits limits)
    : store_(std::move(store)), limits_(std::move(limits)), state_(std::make_shared<state>()) {
  state_->disk.emplace(store_->path(), limits_.min_free_bytes, limits_.free_space, limits_.free_space_cache_ms);
}

held_mail::~held_mail() = default;

result<std::unique_ptr<held_mail>> held_mail::open(std::shared_ptr<db> store, held_mail_limits limits) {
  std::unique_ptr<held_mail> hm(new held_mail(std::move(store), std::move(limits)));
  auto& st = *hm->state_;
  auto seq = hm->store_->get(seq_key);
  if (!seq) return seq.err();
  if (*seq) {
    codec::reader r(as_bytes(**seq));
    if (!r.u64(st.last_id) || r.left() != 0)
      return error{errc::store_corrupt, "held mail: m/seq is not a u64 (run 'aqua store repair' or delete m/)"};
  }
  auto scan = hm->store_->scan("m/h/", [&](std::string_view, std::string_view v) {
    if (auto h = decode_hash(v)) {
      st.add(h->recipient, h->size);
      st.last_id = std::max(st.last_id, h->id);
    }
    return true;
  });
  if (!scan) return scan.err();
  return hm;
}

void held_mail::put(const peer_id& recipient, bytes_view envelope, std::uint32_t ttl_s, std::int64_t now_ms,
                    const peer_id& depositor, put_done done) {
  auto refuse = [&](error e) {
    {
      std::lock_guard<std::mutex> g(state_->mu);
      ++state_->counters.refused;
    }
    done(std::move(e));
  };
  const std::string peer = recipient.str();
  if (envelope.size() > limits_.max_envelope || envelope.size() > limits_.max_bytes_per_peer)
    return refuse(error{errc::frame_too_large, "held mail: envelope of " + std::to_string(envelope.size()) +
                                                   " bytes is above the mailbox's limit"});
  auto named = e2ee::peek_recipient(envelope);
  if (!named || !(*named == recipient))
    return refuse(error{errc::bad_envelope, "held mail: not an aqua envelope for " + peer});
  auto env_expires = envelope_expires_ms(envelope);
  if (!env_expires) return refuse(error{errc::bad_envelope, "held mail: envelope header without an expiry"});
  const std::uint32_t ttl = ttl_s == 0 ? limits_.max_ttl_s : std::min(ttl_s, limits_.max_ttl_s);
  const std::int64_t expires = std::min(now_ms + std::int64_t{ttl} * 1000, *env_expires);
  if (expires <= now_ms) return refuse(error{errc::message_expired, "held mail: the envelope has expired"});

  const bytes hash = sha256(envelope);
  const std::string hash_hex = to_hex(hash);
  std::unique_lock<std::mutex> lock(state_->mu);
  auto& st = *state_;
  if (auto it = st.pending_puts.find(hash_hex); it != st.pending_puts.end()) {
    ++st.counters.duplicates;
    it->second.push_back({true, std::move(done)});  // answered with the first write's result
    return;
  }
  auto existing = store_->get(hash_key(hash_hex));
  if (!existing) {
    lock.unlock();
    return done(existing.err());
  }
  if (*existing) {
    ++st.counters.duplicates;
    lock.unlock();
    return done(put_outcome::duplicate);
  }
  auto refuse_held = [&](error e) {  // refuse() under the lock
    ++st.counters.refused;
    lock.unlock();
    done(std::move(e));
  };
  const auto held = st.per_peer.find(peer);  // no entry made here: st.add makes it for a stored deposit
  const state::usage u = held == st.per_peer.end() ? state::usage{} : held->second;
  std::string why;
  if (u.messages + 1 > limits_.max_messages_per_peer)
    why = std::to_string(u.messages) + " messages held for " + peer;
  else if (u.bytes + envelope.size() > limits_.max_bytes_per_peer)
    why = std::to_string(u.bytes) + " bytes held for " + peer;
  else if (st.total.bytes + envelope.size() > limits_.max_bytes_total)
    why = std::to_string(st.total.bytes) + " bytes held in total";
  if (!why.empty()) return refuse_held(error{errc::quota_exceeded, "held mail: quota exceeded: " + why});
  // Last, as it may ask the filesystem: the bytes this deposit writes must leave min_free_bytes on the disk.
  if (auto room = st.disk->take(disk_bytes_of(envelope.size()), now_ms); !room)
    return refuse_held(error{room.err().code(), "held mail: " + room.err().message()});
  const std::uint64_t id = ++st.last_id;
  st.add(peer, envelope.size());
  st.pending_puts[hash_hex].push_back({false, std::move(done)});
  lock.unlock();

  const auto size = static_cast<std::uint32_t>(envelope.size());
  leveldb::WriteBatch b;
  b.Put(mail_key(peer, id), as_slice(encode_mail({hash, now_ms, expires, bytes(envelope.begin(), envelope.end()), depositor.str()})));
  b.Put(hash_key(hash_hex), as_slice(encode_hash({id, expires, size, peer})));
  b.Put(expiry_key(expires, id), as_slice(encode_expiry({hash, size, peer})));
  bytes seq;
  codec::put_u64(seq, id);
  b.Put(seq_key, as_slice(seq));
  store_->submit(std::move(b), [st = state_, hash_hex, peer, size](const result<void>& r) {
    std::vector<state::waiter> waiters;
    {
      std::lock_guard<std::mutex> g(st->mu);
      auto it = st->pending_puts.find(hash_hex);
      if (it != st->pending_puts.end()) {
        waiters = std::move(it->second);
        st->pending_puts.erase(it);
      }
      if (r) ++st->counters.stored;
      else st->remove(peer, size);
    }
    for (auto& w : waiters) {
      if (!r) w.done(r.err());
      else w.done(w.duplicate ? put_outcome::duplicate : put_outcome::stored);
    }
  });
}

result<std::vector<held_envelope>> held_mail::list(const peer_id& recipient, std::uint64_t after_id,
                                                   std::size_t max_count, std::size_t max_bytes) const {
  const std::string peer = recipient.str();
  const std::string prefix = mail_prefix(peer);
  std::set<std::uint64_t> skip;
  {
    std::lock_guard<std::mutex> g(state_->mu);
    for (auto it = state_->deleting.lower_bound({peer, 0}); it != state_->deleting.end() && it->first == peer; ++it)
      skip.insert(it->second);
  }
  std::vector<held_envelope> out;
  std::size_t total = 0;
  auto r = store_->scan(
      prefix,
      [&](std::string_view k, std::string_view v) {
        if (out.size() >= max_count) return false;
        const auto hex = k.substr(prefix.size());
        auto idb = from_hex(hex);
        if (!idb || idb->size() != 8) return true;
        std::uint64_t id = 0;
        for (auto b : *idb) id = id << 8 | b;
        if (skip.count(id)) return true;
        auto m = decode_mail(v);
        if (!m) return true;  // undecodable: skipped, like the node's own records
        if (!out.empty() && total + m->envelope.size() > max_bytes) return false;
        total += m->envelope.size();
        out.push_back({id, std::move(m->envelope), m->expires_ms, std::move(m->depositor)});
        return true;
      },
      after_id == 0 ? std::string() : mail_key(peer, after_id));
  if (!r) return r.err();
  return out;
}

result<std::size_t> held_mail::ack(const peer_id& recipient, std::span<const std::uint64_t> ids,
                                   std::function<void(result<void>)> done) {
  const std::string peer = recipient.str();
  std::vector<doomed> items;
  {
    std::lock_guard<std::mutex> g(state_->mu);
    for (auto id : ids) {
      if (state_->deleting.count({peer, id})) continue;
      auto v = store_->get(mail_key(peer, id));
      if (!v) return v.err();
      if (!*v) continue;
      auto m = decode_mail(**v);
      if (!m) continue;
      state_->deleting.insert({peer, id});
      items.push_back({peer, id, to_hex(m->hash), m->expires_ms, m->envelope.size()});
    }
  }
  const std::size_t n = items.size();
  delete_batch(std::move(items), false, std::move(done));
  return n;
}

result<std::size_t> held_mail::expire(std::int64_t now_ms, std::size_t max, std::function<void(result<void>)> done) {
  std::vector<doomed> items;
  {
    std::lock_guard<std::mutex> g(state_->mu);
    const std::string stop = "m/x/" + hex16(static_cast<std::uint64_t>(std::max<std::int64_t>(now_ms, 0)));
    auto r = store_->scan("m/x/", [&](std::string_view k, std::string_view v) {
      if (items.size() >= max || k.substr(0, stop.size()) > stop) return false;
      auto exp = from_hex(k.substr(4, 16));
      auto idb = from_hex(k.substr(21));
      auto x = decode_expiry(v);
      if (!exp || !idb || exp->size() != 8 || idb->size() != 8 || !x) return true;
      std::uint64_t e = 0, id = 0;
      for (auto b : *exp) e = e << 8 | b;
      for (auto b : *idb) id = id << 8 | b;
      if (state_->deleting.count({x->recipient, id})) return true;
      state_->deleting.insert({x->recipient, id});
      items.push_back({x->recipient, id, to_hex(x->hash), static_cast<std::int64_t>(e), x->size});
      return true;
    });
    if (!r) {
      for (const auto& d : items) state_->deleting.erase({d.recipient, d.id});
      return r.err();
    }
  }
  const std::size_t n = items.size();
  delete_batch(std::move(items), true, std::move(done));
  return n;
}

void held_mail::delete_batch(std::vector<doomed> items, bool expired, std::function<void(result<void>)> done) {
  if (items.empty()) {
    if (done) done(ok());
    return;
  }
  leveldb::WriteBatch b;
  for (const auto& d : items) {
    b.Delete(mail_key(d.recipient, d.id));
    b.Delete(hash_key(d.hash_hex));
    b.Delete(expiry_key(d.expires_ms, d.id));
  }
  {
    std::lock_guard<std::mutex> g(state_->mu);  // quota is free at once; restored if the write fails
    for (const auto& d : items) state_->remove(d.recipient, d.size);
  }
  store_->submit(std::move(b), [st = state_, items = std::move(items), expired, done](const result<void>& r) {
    {
      std::lock_guard<std::mutex> g(st->mu);
      for (const auto& d : items) {
        st->deleting.erase({d.recipient, d.id});
        if (!r) st->add(d.recipient, d.size);
      }
      if (r) (expired ? st->counters.expired : st->counters.acked) += items.size();
    }
    if (done) done(r);
  });
}

result<std::optional<std::int64_t>> held_mail::next_expiry() const {
  std::optional<std::int64_t> out;
  auto r = store_->scan("m/x/", [&](std::string_view k, std::string_view) {
    auto exp = from_hex(k.substr(4, 16));
    if (!exp || exp->size() != 8) return true;
    std::uint64_t e = 0;
    for (auto b : *exp) e = e << 8 | b;
    out = static_cast<std::int64_t>(e);
    return false;
  });
  if (!r) return r.err();
  return out;
}

held_mail_stats held_mail::stats() const {
  std::lock_guard<std::mutex> g(state_->mu);
  held_mail_stats s = state_->counters;
  s.messages = state_->total.messages;
  s.bytes = state_->total.bytes;
  s.recipients = state_->per_peer.size();
  return s;
}

} // namespace aqua::store
