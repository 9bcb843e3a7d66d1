// The engine's versioned state encoding (docs/protocol/sessions.md, "State
// encoding"): keys, prekeys, sessions and the replay window. The tag index
// is derived, not stored.

#include <algorithm>

#include "e2ee/engine.hpp"

namespace aqua::e2ee {

bytes engine::save() const { return save_impl(true); }

bytes engine::save_impl(bool with_sessions) const {
  bytes out;
  // Without a replay window versions 1 and 2 are the same bytes: the meta
  // blob a node stores stays version 1, readable by an older aqua.
  // Spent one-time prekeys need version 3.
  // Version 4 once a card or a rotation gave the signed prekeys keep times (every node after its first card).
  const auto& prev = prekeys_.previous_signed_prekey;
  const bool rotation = prekeys_.signed_prekey_published_ms != 0 || prekeys_.signed_prekey_cards_until_ms != 0 ||
                        (prev && prev->keep_until_ms != 0);
  out.push_back(rotation                            ? engine_state_version_rotation
                : !prekeys_.spent_one_time.empty() ? engine_state_version_spent
                : with_sessions                    ? engine_state_version
                                                   : 1);
  put_bytes(out, self_key_.raw());
  put_bytes(out, prekeys_.agreement.sec);
  put_u32(out, prekeys_.signed_prekey_id);
  put_bytes(out, prekeys_.signed_prekey.sec);
  if (rotation) {
    put_u64(out, static_cast<std::uint64_t>(prekeys_.signed_prekey_published_ms));
    put_u64(out, static_cast<std::uint64_t>(prekeys_.signed_prekey_cards_until_ms));
  }
  out.push_back(prev ? 1 : 0);
  if (prev) {
    put_u32(out, prev->id);
    if (rotation) put_u64(out, static_cast<std::uint64_t>(prev->keep_until_ms));
    put_bytes(out, prev->kp.sec);
  }
  put_u32(out, prekeys_.next_one_time_id);
  put_u32(out, static_cast<std::uint32_t>(prekeys_.one_time.size()));
  for (auto& [id, kp] : prekeys_.one_time) {
    put_u32(out, id);
    put_bytes(out, kp.sec);
  }
  if (rotation || !prekeys_.spent_one_time.empty()) {
    put_u32(out, static_cast<std::uint32_t>(prekeys_.spent_one_time.size()));
    for (auto& [id, sp] : prekeys_.spent_one_time) {
      put_u32(out, id);
      put_u64(out, static_cast<std::uint64_t>(sp.keep_until_ms));
      put_bytes(out, sp.kp.sec);
    }
  }
  put_u32(out, static_cast<std::uint32_t>(own_card_.size()));
  put_bytes(out, own_card_);
  put_u64(out, next_session_id_);
  put_u32(out, with_sessions ? static_cast<std::uint32_t>(sessions_.size()) : 0);
  if (with_sessions)
    for (auto& [id, s] : sessions_) encode_session(s, out);
  put_u32(out, with_sessions ? static_cast<std::uint32_t>(seen_order_.size()) : 0);
  if (with_sessions)
    for (auto& k : seen_order_) put_bytes(out, k);  // message ID || sender's identity key
  return out;
}

result<void> engine::add_loaded_session(session s) {
  s.r.limits = limits_.ratchet;
  if (s.id >= next_session_id_ || (!sessions_.empty() && s.id <= sessions_.rbegin()->first))
    return error{errc::bad_session_state, "session ids not strictly increasing or out of range"};
  auto id = s.id;
  auto& ref = sessions_.emplace(id, std::move(s)).first->second;
  by_ephemeral_[ref.ephemeral] = id;
  auto& pref = send_session_[ref.peer()];
  auto cur = sessions_.find(pref);
  if (pref == 0 || cur == sessions_.end() || cur->second.last_recv_ms <= ref.last_recv_ms) pref = id;
  index_session(ref);
  return ok();
}

result<engine> engine::load_parts(bytes_view meta, const std::vector<bytes>& sessions, std::shared_ptr<env> e,
                                  engine_limits limits) {
  auto g = load(meta, std::move(e), limits);
  if (!g) return g;
  if (!g->sessions_.empty()) return error{errc::bad_session_state, "engine meta blob holds sessions"};
  std::vector<session> parsed;
  for (auto& b : sessions) {
    reader r(b);
    auto s = decode_session(r);
    if (!s) return s.err();
    if (r.left() != 0) return error{errc::bad_session_state, "trailing bytes after a session blob"};
    parsed.push_back(std::move(*s));
  }
  std::sort(parsed.begin(), parsed.end(), [](const session& a, const session& b) { return a.id < b.id; });
  for (auto& s : parsed)
    if (auto r = g->add_loaded_session(std::move(s)); !r) return r.err();
  g->meta_dirty_ = false;
  return g;
}

result<engine> engine::load(bytes_view data, std::shared_ptr<env> e, engine_limits limits) {
  reader r(data);
  auto bad = [&](const std::string& what) {
    return error{errc::bad_session_state, "engine state: " + what + " at byte " + std::to_string(r.pos())};
  };
  std::uint8_t version = 0, has_prev = 0;
  if (!r.u8(version)) return bad("empty");
  if (version < 1 || version > engine_state_version_rotation)
    return error{errc::unknown_version, "engine state version " + std::to_string(version) + " (this aqua reads 1 to 4)"};
  const bool rotation = version == engine_state_version_rotation;
  engine g;
  g.env_ = std::move(e);
  g.set_limits(limits);
  key32 self{}, ak{}, spk{};
  std::uint64_t published = 0, cards_until = 0, prev_until = 0;
  if (!r.key(self) || !r.key(ak) || !r.u32(g.prekeys_.signed_prekey_id) || !r.key(spk) ||
      (rotation && (!r.u64(published) || !r.u64(cards_until))) || !r.u8(has_prev))
    return bad("truncated in keys");
  if (published > static_cast<std::uint64_t>(INT64_MAX) || cards_until > static_cast<std::uint64_t>(INT64_MAX))
    return bad("signed prekey times out of range");
  g.prekeys_.signed_prekey_published_ms = static_cast<std::int64_t>(published);
  g.prekeys_.signed_prekey_cards_until_ms = static_cast<std::int64_t>(cards_until);
  g.self_key_ = public_key(self);
  g.self_id_ = peer_id::from_public_key(g.self_key_);
  g.prekeys_.agreement = x25519_keypair::from_secret(ak);
  g.prekeys_.signed_prekey = x25519_keypair::from_secret(spk);
  if (has_prev > 1) return bad("bad previous-prekey flag");
  if (has_prev) {
    std::uint32_t id = 0;
    key32 sec{};
    if (!r.u32(id) || (rotation && !r.u64(prev_until)) || !r.key(sec)) return bad("truncated in previous prekey");
    if (prev_until > static_cast<std::uint64_t>(INT64_MAX)) return bad("previous prekey keep time out of range");
    g.prekeys_.previous_signed_prekey =
      local_prekeys::retired_prekey{id, x25519_keypair::from_secret(sec), static_cast<std::int64_t>(prev_until)};
    g.note_keep_until(static_cast<std::int64_t>(prev_until));
  }
  if (rotation && published == 0 && cards_until == 0 && prev_until == 0)
    return bad("version 4 without signed prekey times");
  std::uint32_t n_otk = 0, card_len = 0, n_sessions = 0, n_seen = 0;
  if (!r.u32(g.prekeys_.next_one_time_id) || !r.u32(n_otk)) return bad("truncated in one-time prekeys");
  if (n_otk > 100000) return bad("too many one-time prekeys");
  for (std::uint32_t i = 0; i < n_otk; ++i) {
    std::uint32_t id = 0;
    key32 sec{};
    if (!r.u32(id) || !r.key(sec)) return bad("truncated in one-time prekeys");
    if (!g.prekeys_.one_time.empty() && id <= g.prekeys_.one_time.rbegin()->first)
      return bad("one-time prekey ids not strictly increasing");
    g.prekeys_.one_time[id] = x25519_keypair::from_secret(sec);
  }
  if (version == engine_state_version_spent || rotation) {
    std::uint32_t n_spent = 0;
    if (!r.u32(n_spent)) return bad("truncated in spent one-time prekeys");
    if ((!rotation && n_spent == 0) || n_spent > 100000)
      return bad("version " + std::to_string(version) + " with " + std::to_string(n_spent) + " spent one-time prekeys");
    for (std::uint32_t i = 0; i < n_spent; ++i) {
      std::uint32_t id = 0;
      std::uint64_t until = 0;
      key32 sec{};
      if (!r.u32(id) || !r.u64(until) || !r.key(sec)) return bad("truncated in spent one-time prekeys");
      if (!g.prekeys_.spent_one_time.empty() && id <= g.prekeys_.spent_one_time.rbegin()->first)
        return bad("spent one-time prekey ids not strictly increasing");
      if (g.prekeys_.one_time.count(id)) return bad("one-time prekey " + std::to_string(id) + " both unused and spent");
      const auto keep = static_cast<std::int64_t>(until);
      g.prekeys_.spent_one_time[id] = local_prekeys::spent_prekey{x25519_keypair::from_secret(sec), keep};
      g.note_keep_until(keep);
    }
  }
  bytes_view v;
  if (!r.u32(card_len) || card_len > 64 * 1024 || !r.take(card_len, v)) return bad("bad own card");
  g.own_card_.assign(v.begin(), v.end());
  if (!r.u64(g.next_session_id_) || !r.u32(n_sessions)) return bad("truncated in sessions");
  if (n_sessions > 1000000) return bad("too many sessions");
  for (std::uint32_t i = 0; i < n_sessions; ++i) {
    auto s = decode_session(r);
    if (!s) return s.err();
    if (auto a = g.add_loaded_session(std::move(*s)); !a) return bad(a.err().message());
  }
  if (!r.u32(n_seen) || n_seen > 10000000) return bad("bad replay window");
  // Version 1: no message ID twice. Version 2: no (message ID, sender) pair twice.
  std::unordered_set<std::array<std::uint8_t, message_id_size>, detail::keyed_hasher> v1_ids;
  for (std::uint32_t i = 0; i < n_seen; ++i) {
    if (!r.take(message_id_size + 32, v)) return bad("truncated in replay window");
    seen_key k{};
    std::copy(v.begin(), v.end(), k.begin());
    if (g.seen_.count(k)) return bad("duplicate entry in replay window");
    if (version == 1) {
      std::array<std::uint8_t, message_id_size> id{};
      std::copy(k.begin(), k.begin() + message_id_size, id.begin());
      if (!v1_ids.insert(id).second) return bad("duplicate message id in replay window");
    }
    g.remember_id(k);
  }
  if (r.left() != 0) return bad(std::to_string(r.left()) + " trailing bytes");
  return g;
}

} // namespace aqua::e2ee
