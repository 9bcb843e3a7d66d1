#include "e2ee/engine.hpp"

#include <algorithm>
#include <cstring>

namespace aqua::e2ee {

std::size_t engine::tag_hash::operator()(const tag_bytes& t) const noexcept {
  std::size_t h = 0;
  std::memcpy(&h, t.data(), sizeof h);
  return h;
}

void engine::set_limits(const engine_limits& limits) {
  limits_ = limits;
  session_setups_ = rate_buckets<std::string>(limits.session_setups_per_peer_per_s);
  searches_ = rate_buckets<std::string>(limits.searches_per_peer_per_s);
}

engine engine::create(const public_key& self, std::shared_ptr<env> e, engine_limits limits) {
  engine g;
  g.env_ = std::move(e);
  g.set_limits(limits);
  g.self_key_ = self;
  g.self_id_ = peer_id::from_public_key(self);
  g.prekeys_.agreement = x25519_keypair::generate(*g.env_);
  g.prekeys_.signed_prekey = x25519_keypair::generate(*g.env_);
  g.top_up_one_time_prekeys();
  return g;
}

void engine::top_up_one_time_prekeys() {
  while (prekeys_.one_time.size() < limits_.one_time_prekeys)
    prekeys_.one_time[prekeys_.next_one_time_id++] = x25519_keypair::generate(*env_);
}

void engine::spend_one_time_prekey(std::uint32_t id, std::int64_t now_ms) {
  auto it = prekeys_.one_time.find(id);
  if (it == prekeys_.one_time.end()) return;  // already spent: it stays until its keep time
  auto& spent = prekeys_.spent_one_time;
  if (limits_.spent_one_time_keep_ms > 0 && limits_.max_spent_one_time > 0) {
    if (spent.size() >= limits_.max_spent_one_time) {  // full: the one closest to its end goes first
      auto oldest = std::min_element(spent.begin(), spent.end(), [](const auto& a, const auto& b) {
        return a.second.keep_until_ms < b.second.keep_until_ms;
      });
      spent.erase(oldest);
    }
    const auto until = now_ms + limits_.spent_one_time_keep_ms;
    spent[id] = local_prekeys::spent_prekey{it->second, until};
    note_keep_until(until);
  }
  prekeys_.one_time.erase(it);
  top_up_one_time_prekeys();  // fresh ones are published with the next card
  meta_dirty_ = true;
}

void engine::forget_spent_prekeys(std::int64_t now_ms) {
  if (next_spent_expiry_ms_ == 0 || now_ms < next_spent_expiry_ms_) return;
  next_spent_expiry_ms_ = 0;
  for (auto it = prekeys_.spent_one_time.begin(); it != prekeys_.spent_one_time.end();) {
    if (it->second.keep_until_ms <= now_ms) {
      it = prekeys_.spent_one_time.erase(it);
      meta_dirty_ = true;
      continue;
    }
    note_keep_until(it->second.keep_until_ms);
    ++it;
  }
  if (auto& prev = prekeys_.previous_signed_prekey; prev && prev->keep_until_ms > 0) {
    if (prev->keep_until_ms <= now_ms) {
      prev.reset();
      meta_dirty_ = true;
    } else {
      note_keep_until(prev->keep_until_ms);
    }
  }
}

contact_card engine::card_template(std::vector<std::string> addresses, std::vector<std::string> capabilities,
                                   std::int64_t validity_ms) {
  contact_card c;
  c.identity = self_key_;
  c.agreement_key = prekeys_.agreement.pub;
  c.signed_prekey_id = prekeys_.signed_prekey_id;
  c.signed_prekey = prekeys_.signed_prekey.pub;
  c.addresses = std::move(addresses);
  c.capabilities = std::move(capabilities);
  for (auto& [id, kp] : prekeys_.one_time) c.one_time_prekeys.push_back({id, kp.pub});
  c.created_ms = env_->now_unix_ms();
  c.expires_ms = c.created_ms + validity_ms;
  if (c.expires_ms > prekeys_.signed_prekey_cards_until_ms) {
    prekeys_.signed_prekey_cards_until_ms = c.expires_ms;
    meta_dirty_ = true;
  }
  if (prekeys_.signed_prekey_published_ms == 0) prekeys_.signed_prekey_published_ms = c.created_ms;
  return c;
}

result<void> engine::set_own_card(const bytes& signed_card) {
  auto c = decode_card(signed_card);
  if (!c) return c.err();
  if (!(c->identity == self_key_)) return error{errc::bad_card, "own card names another identity"};
  if (!c->identity.verify(card_signing_input(*c), c->signature))
    return error{errc::bad_card_signature, "own card is not signed by our identity"};
  if (c->agreement_key != prekeys_.agreement.pub) return error{errc::bad_card, "own card has a foreign agreement key"};
  own_card_ = signed_card;
  meta_dirty_ = true;
  return ok();
}

bool engine::has_session(const peer_id& peer) const { return send_session_.count(peer) != 0; }

session* engine::find_send_session(const peer_id& peer) {
  auto it = send_session_.find(peer);
  if (it == send_session_.end()) return nullptr;
  auto s = sessions_.find(it->second);
  return s == sessions_.end() ? nullptr : &s->second;
}

void engine::index_session(session& s) {
  for (auto m : s.recv_missing) tags_[message_tag(s.tag_recv, m)] = {s.id, m};
  for (std::uint64_t m = s.recv_high; m < s.recv_high + limits_.tag_window; ++m)
    tags_[message_tag(s.tag_recv, m)] = {s.id, m};
}

void engine::unindex_session(const session& s) {
  for (auto m : s.recv_missing) tags_.erase(message_tag(s.tag_recv, m));
  for (std::uint64_t m = s.recv_high; m < s.recv_high + limits_.tag_window; ++m) tags_.erase(message_tag(s.tag_recv, m));
}

// Bounded state: anyone holding a validly signed card can open sessions
// with us, so the least recently active one goes when the table is full.
void engine::evict_if_full() {
  while (sessions_.size() >= limits_.max_sessions && !sessions_.empty()) {
    auto victim = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
      if (std::max(it->second.last_recv_ms, it->second.created_ms) <
          std::max(victim->second.last_recv_ms, victim->second.created_ms))
        victim = it;
    unindex_session(victim->second);
    dirty_sessions_.erase(victim->first);
    removed_sessions_.insert(victim->first);
    by_ephemeral_.erase(victim->second.ephemeral);
    auto peer = victim->second.peer();
    auto gone = victim->first;
    sessions_.erase(victim);
    if (auto sp = send_session_.find(peer); sp != send_session_.end() && sp->second == gone) {
      send_session_.erase(sp);
      for (auto& [id, other] : sessions_)  // another session with the peer takes over
        if (other.peer() == peer) send_session_[peer] = id;
    }
  }
}

void engine::mark_received(session& s, std::uint64_t seq) {
  auto consume = [&](std::uint64_t m) {
    auto t = message_tag(s.tag_recv, m);
    tags_.erase(t);
    return t;
  };
  auto t = consume(seq);
  consumed_.insert_or_assign(t, s.peer());
  consumed_order_.push_back(t);
  if (consumed_order_.size() > limits_.seen_message_ids) {
    consumed_.erase(consumed_order_.front());
    consumed_order_.pop_front();
  }
  if (seq >= s.recv_high) {
    auto old_end = s.recv_high + limits_.tag_window;
    for (auto m = s.recv_high; m < seq; ++m) {
      s.recv_missing.insert(m);
      // After a lookahead jump the gap lies past the old window: index it,
      // so the late messages in it are found (bounded by max_missing below).
      if (m >= old_end && seq - m <= limits_.max_missing) tags_[message_tag(s.tag_recv, m)] = {s.id, m};
    }
    s.recv_high = seq + 1;
    for (auto m = std::max(old_end, s.recv_high); m < s.recv_high + limits_.tag_window; ++m)
      tags_[message_tag(s.tag_recv, m)] = {s.id, m};
    while (s.recv_missing.size() > limits_.max_missing) {
      consume(*s.recv_missing.begin());
      s.recv_missing.erase(s.recv_missing.begin());
    }
  } else {
    s.recv_missing.erase(seq);
  }
}

engine::seen_key engine::make_seen_key(const std::array<std::uint8_t, message_id_size>& id, const peer_id& sender) {
  seen_key k{};
  std::copy(id.begin(), id.end(), k.begin());
  auto& raw = sender.key().raw();
  std::copy(raw.begin(), raw.end(), k.begin() + message_id_size);
  return k;
}

void engine::remember_id(const seen_key& k) {
  if (!seen_.insert(k).second) return;
  seen_order_.push_back(k);
  if (seen_order_.size() > limits_.seen_message_ids) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
}

result<bytes> engine::seal(const peer_id& to, const contact_card* their_card, bytes_view payload,
                           const std::array<std::uint8_t, message_id_size>& message_id, std::int64_t expires_ms) {
  if (payload.size() > limits_.max_payload)
    return error{errc::frame_too_large, "payload of " + std::to_string(payload.size()) + " bytes exceeds " +
                                            std::to_string(limits_.max_payload)};
  forget_spent_prekeys(env_->now_unix_ms());
  session* s = find_send_session(to);
  if (s == nullptr) {
    if (their_card == nullptr)
      return error{errc::unknown_session, "no session with " + to.str() + " and no contact card to start one"};
    if (!(their_card->id() == to)) return error{errc::invalid_argument, "card is for " + their_card->id().str()};
    if (own_card_.empty()) return error{errc::invalid_argument, "our own signed card is not set"};
    evict_if_full();
    session ns = x3dh_initiate(prekeys_, self_key_, own_card_, *their_card, *env_);
    ns.r.limits = limits_.ratchet;
    ns.id = next_session_id_++;
    meta_dirty_ = true;
    auto id = ns.id;
    auto& ref = sessions_.emplace(id, std::move(ns)).first->second;
    by_ephemeral_[ref.ephemeral] = id;
    send_session_[to] = id;
    index_session(ref);
    s = &ref;
  }
  dirty_sessions_.insert(s->id);
  envelope e;
  e.kind = s->send_prekey ? envelope_kind::prekey : envelope_kind::session;
  e.recipient = to;
  e.message_id = message_id;
  e.expires_ms = expires_ms;
  if (s->send_prekey) e.prekey = s->prekey;
  auto next = s->r.next_send_key();
  if (!next) return next.err();
  auto& [h, mk] = *next;
  auto seq = s->send_seq++;
  e.tag = message_tag(s->tag_send, seq);
  auto ad = envelope_ad(e);
  aead_seal(s->hk_send, header_nonce(seq), ad, h.encode(), e.header);
  put_bytes(ad, e.header);
  aead_seal(mk, message_nonce, ad, payload, e.ciphertext);
  wipe(mk);
  return encode_envelope(e);
}

result<bool> engine::complete_pending_step(const peer_id& peer) {
  session* s = find_send_session(peer);
  if (s == nullptr || !s->r.send_step_pending()) return false;
  if (auto r = s->r.complete_send_step(); !r) return r.err();
  dirty_sessions_.insert(s->id);
  return true;
}

result<opened_message> engine::open_in_session(session& s, std::uint64_t seq, const envelope& e, bool is_new) {
  // Keyed by sender: another sender's message with the same (sender-chosen) ID is a different message.
  if (seen_.count(make_seen_key(e.message_id, s.peer())))
    return error{errc::replayed_message,
                 "message id " + to_hex(e.message_id) + " from " + s.peer().str() + " was already received"};
  if (++opens_since_expiry_ >= limits_.expire_every) {
    opens_since_expiry_ = 0;
    for (auto& [id, other] : sessions_) other.r.expire_skipped(env_->now_unix_ms());
  }
  auto ad = envelope_ad(e);
  bytes hdr;
  if (!aead_open(s.hk_recv, header_nonce(seq), ad, e.header, hdr))
    return error{errc::decrypt_failed, "envelope header does not authenticate"};
  auto h = ratchet_header::decode(hdr);
  if (!h) return error{errc::decrypt_failed, "envelope header has the wrong size"};
  auto p = s.r.receive_key(*h, *env_);
  if (!p) return p.err();
  put_bytes(ad, e.header);
  opened_message out;
  bool good = aead_open(p->mk, message_nonce, ad, e.ciphertext, out.payload);
  if (!good) return error{errc::decrypt_failed, "envelope ciphertext does not authenticate"};
  s.r.commit(std::move(*p));
  mark_received(s, seq);
  s.last_recv_ms = env_->now_unix_ms();
  if (s.initiator) s.send_prekey = false;  // the responder has the session now
  out.sender = s.peer();
  send_session_[out.sender] = s.id;  // answer on the session the peer last used
  out.message_id = to_hex(e.message_id);
  out.expires_ms = e.expires_ms;
  out.new_session = is_new;
  remember_id(make_seen_key(e.message_id, out.sender));
  dirty_sessions_.insert(s.id);
  return out;
}

result<opened_message> engine::open(bytes_view data, const admit_fn& admit, const peer_id* likely_sender,
                                    bool limit_by_sender) {
  auto e = decode_envelope(data, limits_.max_payload + max_identity_block + 1024);
  if (!e) return e.err();
  if (!(e->recipient == self_id_))
    return error{errc::wrong_recipient, "envelope is for " + e->recipient.str() + ", not " + self_id_.str()};
  auto now = env_->now_unix_ms();
  forget_spent_prekeys(now);
  if (now >= e->expires_ms)
    return error{errc::message_expired, "envelope " + to_hex(e->message_id) + " expired " +
                                            std::to_string((now - e->expires_ms) / 1000) + " s ago"};
  if (e->ciphertext.size() - aead_tag_size > limits_.max_payload)
    return error{errc::frame_too_large, "envelope payload of " + std::to_string(e->ciphertext.size() - aead_tag_size) +
                                            " bytes exceeds " + std::to_string(limits_.max_payload)};
  if (auto it = tags_.find(e->tag); it != tags_.end()) {
    auto slot = it->second;
    auto& s = sessions_.at(slot.session);
    if (admit)
      if (auto refused = admit(s.peer())) return *refused;
    return open_in_session(s, slot.seq, *e, false);
  }
  if (auto c = consumed_.find(e->tag); c != consumed_.end()) {
    // A copy of an envelope that opened: a replay if its session's peer sent this ID.
    if (seen_.count(make_seen_key(e->message_id, c->second)))
      return error{errc::replayed_message,
                   "message id " + to_hex(e->message_id) + " from " + c->second.str() + " was already received"};
    return error{errc::reused_message_key, "the message key of this envelope was already used (replayed ciphertext)"};
  }
  // Beyond the indexed window: search ahead in the session a prekey
  // envelope names, or in the likely sender's sessions.
  auto search = [&](session& s) -> std::optional<std::uint64_t> {
    for (std::uint64_t m = s.recv_high + limits_.tag_window; m < s.recv_high + limits_.max_lookahead; ++m)
      if (message_tag(s.tag_recv, m) == e->tag) return m;
    return std::nullopt;
  };
  std::vector<session*> candidates;
  if (e->kind == envelope_kind::prekey)
    if (auto it = by_ephemeral_.find(e->prekey.ephemeral); it != by_ephemeral_.end())
      candidates.push_back(&sessions_.at(it->second));
  // A prekey envelope belongs to the session its EK names: other sessions' tag keys cannot have made its tag.
  if (likely_sender && e->kind != envelope_kind::prekey)
    for (auto& [id, s] : sessions_)
      if (s.peer() == *likely_sender) candidates.push_back(&s);
  // The costly steps are charged to the sender that pushes the envelope at us (engine_limits).
  const bool budgeted = limit_by_sender && likely_sender;
  auto over_budget = [&](rate_buckets<std::string>& budget, const char* what) -> std::optional<error> {
    if (!budgeted || budget.take(likely_sender->str(), now)) return std::nullopt;
    return error{errc::quota_exceeded, std::string("more than ") + std::to_string(budget.per_s()) + " " + what +
                                           " a second for envelopes from " + likely_sender->str() +
                                           "; not opened, may be sent again"};
  };
  if (!candidates.empty())
    if (auto refused = over_budget(searches_, "searches past the tag window")) return *refused;
  for (auto* s : candidates)
    if (auto m = search(*s)) {
      if (admit)
        if (auto refused = admit(s->peer())) return *refused;
      return open_in_session(*s, *m, *e, false);
    }
  if (e->kind != envelope_kind::prekey || by_ephemeral_.count(e->prekey.ephemeral))
    return error{errc::unknown_session, "envelope matches no session (unknown sender, or sequence outside the window; " +
                                            std::to_string(candidates.size()) + " candidate session(s)" +
                                            (candidates.empty() ? std::string() : ", first at sequence " + std::to_string(candidates[0]->recv_high)) + ")"};
  if (auto refused = over_budget(session_setups_, "new sessions")) return *refused;
  auto card = x3dh_open_identity(prekeys_, self_id_, e->prekey);
  if (!card) return card.err();
  if (admit)
    if (auto refused = admit(card->id())) return *refused;
  auto ns = x3dh_respond(prekeys_, self_key_, e->prekey, *card, now);
  if (!ns) return ns.err();
  ns->r.limits = limits_.ratchet;
  std::optional<std::uint64_t> seq;
  for (std::uint64_t m = 0; m < limits_.tag_window && !seq; ++m)
    if (message_tag(ns->tag_recv, m) == e->tag) seq = m;
  if (!seq) return error{errc::unknown_session, "prekey envelope sequence outside the window"};
  ns->id = next_session_id_;
  auto opened = open_in_session(*ns, *seq, *e, true);
  if (!opened) return opened;
  ++next_session_id_;
  meta_dirty_ = true;
  if (e->prekey.one_time_prekey_id != no_one_time_prekey) spend_one_time_prekey(e->prekey.one_time_prekey_id, now);
  evict_if_full();
  auto id = ns->id;
  auto& ref = sessions_.emplace(id, std::move(*ns)).first->second;
  by_ephemeral_[ref.ephemeral] = id;
  send_session_[ref.peer()] = id;
  index_session(ref);
  opened->sender_card = std::move(*card);
  return opened;
}

bool engine::seen(const peer_id& sender, const std::array<std::uint8_t, message_id_size>& id) const {
  return seen_.count(make_seen_key(id, sender)) != 0;
}

engine::changes engine::take_changes() {
  changes c;
  if (meta_dirty_) c.meta = save_impl(false);
  for (auto id : dirty_sessions_) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;
    bytes b;
    encode_session(it->second, b);
    c.sessions.emplace_back(id, std::move(b));
  }
  c.removed.assign(removed_sessions_.begin(), removed_sessions_.end());
  meta_dirty_ = false;
  dirty_sessions_.clear();
  removed_sessions_.clear();
  return c;
}

void engine::rotate_signed_prekey() {
  meta_dirty_ = true;
  const auto now = env_->now_unix_ms();
  const auto cards_until = prekeys_.signed_prekey_cards_until_ms > 0 ? prekeys_.signed_prekey_cards_until_ms
                                                                     : now + limits_.spent_one_time_keep_ms;
  const auto base = std::max(now, cards_until);  // saturating: a state's times are only bounded by INT64_MAX
  const auto keep = base > INT64_MAX - limits_.retired_prekey_grace_ms ? INT64_MAX : base + limits_.retired_prekey_grace_ms;
  prekeys_.previous_signed_prekey = local_prekeys::retired_prekey{prekeys_.signed_prekey_id, prekeys_.signed_prekey, keep};
  note_keep_until(keep);
  prekeys_.signed_prekey_cards_until_ms = 0;
  prekeys_.signed_prekey_published_ms = 0;
  ++prekeys_.signed_prekey_id;
  prekeys_.signed_prekey = x25519_keypair::generate(*env_);
}

bool engine::signed_prekey_rotation_safe(std::int64_t now_ms) const {
  const auto& prev = prekeys_.previous_signed_prekey;
  return !prev || prev->keep_until_ms <= now_ms;
}

} // namespace aqua::e2ee
