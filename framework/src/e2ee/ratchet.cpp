#include "e2ee/ratchet.hpp"

namespace aqua::e2ee {
namespace {

constexpr std::string_view rk_info = "aqua-ratchet-v1";

void kdf_rk(const key32& rk, const key32& dh_out, key32& new_rk, key32& ck) {
  std::array<std::uint8_t, 64> out{};
  hkdf_sha256(rk, dh_out, as_bytes(rk_info), out);
  std::copy(out.begin(), out.begin() + 32, new_rk.begin());
  std::copy(out.begin() + 32, out.end(), ck.begin());
  wipe(out);
}

// KDF_CK with one keyed BLAKE2b-512 call (in place of Signal's two HMACs):
// BLAKE2b-512(key = ck, "aqua-chain-v1") = ck' (32) || mk (32)
void kdf_ck(key32& ck, key32& mk) {
  static constexpr std::string_view chain_info = "aqua-chain-v1";
  std::array<std::uint8_t, 64> out{};
  blake2b_keyed(ck, as_bytes(chain_info), out);
  std::copy(out.begin(), out.begin() + 32, ck.begin());
  std::copy(out.begin() + 32, out.end(), mk.begin());
  wipe(out);
}

} // namespace

bytes ratchet_header::encode() const {
  bytes out;
  out.reserve(ratchet_header_size);
  put_bytes(out, dh);
  put_u32(out, pn);
  put_u32(out, n);
  return out;
}

std::optional<ratchet_header> ratchet_header::decode(bytes_view b) {
  reader r(b);
  ratchet_header h;
  if (!r.key(h.dh) || !r.u32(h.pn) || !r.u32(h.n) || r.left() != 0) return std::nullopt;
  return h;
}

ratchet ratchet::init_initiator(const key32& shared, const key32& their_ratchet_pub, env& e) {
  ratchet r;
  r.dhs_ = x25519_keypair::generate(e);
  r.dhr_ = their_ratchet_pub;
  r.has_dhr_ = true;
  key32 dh_out{};
  dh(r.dhs_.sec, r.dhr_, dh_out);
  kdf_rk(shared, dh_out, r.rk_, r.cks_);
  r.has_cks_ = true;
  wipe(dh_out);
  return r;
}

ratchet ratchet::init_responder(const key32& shared, const x25519_keypair& our_ratchet) {
  ratchet r;
  r.dhs_ = our_ratchet;
  r.rk_ = shared;
  return r;
}

result<std::pair<ratchet_header, key32>> ratchet::next_send_key() {
  if (auto r = complete_send_step(); !r) return r.err();
  key32 mk{};
  kdf_ck(cks_, mk);
  ratchet_header h{dhs_.pub, pn_, ns_};
  ++ns_;
  return std::pair{h, mk};
}

result<void> ratchet::skip_until(std::uint32_t until, std::int64_t now_ms) {
  if (!has_ckr_) return ok();
  if (until > nr_ && until - nr_ > limits.max_jump)
    return error{errc::too_many_skipped, "message " + std::to_string(until) + " would skip " +
                                             std::to_string(until - nr_) + " keys (limit " +
                                             std::to_string(limits.max_jump) + ")"};
  while (nr_ < until) {
    key32 mk{};
    kdf_ck(ckr_, mk);
    // Keep only the newest max_skip keys: a long gap (messages lost while a
    // peer was down) costs hashing, never unbounded memory.
    if (until - nr_ <= limits.max_skip) {
      if (skipped_.size() >= limits.max_skip && !skipped_.empty()) skipped_.erase(skipped_.begin());
      skipped_[{dhr_, nr_}] = skipped_key{mk, now_ms};
    }
    wipe(mk);
    ++nr_;
  }
  return ok();
}

result<void> ratchet::complete_send_step() {
  if (!send_step_pending_) return ok();
  // The new ratchet key pair's public half: only the next header needs it.
  dhs_ = x25519_keypair::from_secret(dhs_.sec);
  key32 dh_out{};
  if (!dh(dhs_.sec, dhr_, dh_out)) return error{errc::crypto_failure, "peer ratchet key is a low-order point"};
  kdf_rk(rk_, dh_out, rk_, cks_);
  wipe(dh_out);
  has_cks_ = true;
  send_step_pending_ = false;
  return ok();
}

result<void> ratchet::dh_step(const key32& their_pub, env& e) {
  // A step still pending from the previous receive comes first, so the
  // root chain is the spec's whatever the timing of sends.
  if (auto r = complete_send_step(); !r) return r;
  pn_ = ns_;
  ns_ = 0;
  nr_ = 0;
  dhr_ = their_pub;
  has_dhr_ = true;
  key32 dh_out{};
  if (!dh(dhs_.sec, dhr_, dh_out)) return error{errc::crypto_failure, "peer ratchet key is a low-order point"};
  kdf_rk(rk_, dh_out, rk_, ckr_);
  has_ckr_ = true;
  // The new ratchet key pair: its secret now (the same random call, in the
  // same place, as x25519_keypair::generate), its public key with the rest
  // of the sending step, off the path of the message that caused this step.
  e.random_bytes(dhs_.sec);
  wipe(dhs_.pub);
  wipe(dh_out);
  // The sending chain: (RK, CKs) = KDF_RK(RK, DH(DHs, DHr)), in complete_send_step.
  wipe(cks_);
  has_cks_ = false;
  send_step_pending_ = true;
  return ok();
}

result<ratchet::pending> ratchet::receive_key(const ratchet_header& h, env& e) const {
  pending p;
  if (has_ckr_ && has_dhr_ && h.dh == dhr_ && h.n == nr_) {  // the common case: next in order
    p.ckr_after = ckr_;
    kdf_ck(p.ckr_after, p.mk);
    return p;
  }
  if (auto it = skipped_.find({h.dh, h.n}); it != skipped_.end()) {
    p.how = pending::kind::skipped;
    p.mk = it->second.mk;
    p.skipped_slot = it->first;
    return p;
  }
  p.how = pending::kind::full;
  ratchet next = *this;
  auto now = e.now_unix_ms();
  if (!has_dhr_ || h.dh != dhr_) {
    if (auto r = next.skip_until(h.pn, now); !r) return r.err();
    if (auto r = next.dh_step(h.dh, e); !r) return r.err();
  } else if (h.n < nr_) {
    return error{errc::reused_message_key, "message key " + std::to_string(h.n) + " of this chain was already used"};
  }
  if (auto r = next.skip_until(h.n, now); !r) return r.err();
  kdf_ck(next.ckr_, p.mk);
  ++next.nr_;
  p.next = std::make_unique<ratchet>(std::move(next));
  return p;
}

void ratchet::commit(pending&& p) {
  switch (p.how) {
    case pending::kind::in_order:
      ckr_ = p.ckr_after;
      ++nr_;
      break;
    case pending::kind::skipped:
      skipped_.erase(p.skipped_slot);
      break;
    case pending::kind::full: {
      auto lim = limits;
      *this = std::move(*p.next);
      limits = lim;
      break;
    }
  }
  wipe(p.mk);
}

void ratchet::expire_skipped(std::int64_t now_ms) {
  for (auto it = skipped_.begin(); it != skipped_.end();)
    it = now_ms - it->second.stored_ms > limits.skipped_ttl_ms ? skipped_.erase(it) : std::next(it);
}

void ratchet::encode(bytes& out) const {
  put_bytes(out, rk_);
  out.push_back(static_cast<std::uint8_t>((has_cks_ ? 1 : 0) | (has_ckr_ ? 2 : 0) | (has_dhr_ ? 4 : 0) |
                                         (send_step_pending_ ? 8 : 0)));
  put_bytes(out, cks_);
  put_bytes(out, ckr_);
  put_bytes(out, dhs_.sec);
  put_bytes(out, dhr_);
  put_u32(out, ns_);
  put_u32(out, nr_);
  put_u32(out, pn_);
  put_u32(out, static_cast<std::uint32_t>(skipped_.size()));
  for (auto& [slot, k] : skipped_) {
    put_bytes(out, slot.first);
    put_u32(out, slot.second);
    put_bytes(out, k.mk);
    put_u64(out, static_cast<std::uint64_t>(k.stored_ms));
  }
}

result<ratchet> ratchet::decode(codec::reader& r) {
  auto bad = [&](const char* what) {
    return error{errc::bad_session_state, std::string("ratchet state truncated in ") + what + " at byte " + std::to_string(r.pos())};
  };
  ratchet out;
  std::uint8_t flags = 0;
  key32 dhs_sec{};
  if (!r.key(out.rk_) || !r.u8(flags) || !r.key(out.cks_) || !r.key(out.ckr_) || !r.key(dhs_sec) || !r.key(out.dhr_))
    return bad("keys");
  if (flags & ~15u) return error{errc::bad_session_state, "ratchet state has unknown flags"};
  out.has_cks_ = flags & 1;
  out.has_ckr_ = flags & 2;
  out.has_dhr_ = flags & 4;
  out.send_step_pending_ = flags & 8;
  if (out.send_step_pending_ && (out.has_cks_ || !out.has_dhr_))
    return error{errc::bad_session_state, "ratchet state has a pending sending step with a sending chain or without a peer key"};
  // A pending sending step derives the public key itself (complete_send_step).
  if (out.send_step_pending_) out.dhs_.sec = dhs_sec;
  else out.dhs_ = x25519_keypair::from_secret(dhs_sec);
  wipe(dhs_sec);
  std::uint32_t n_skipped = 0;
  if (!r.u32(out.ns_) || !r.u32(out.nr_) || !r.u32(out.pn_) || !r.u32(n_skipped)) return bad("counters");
  if (n_skipped > max_stored_skipped) return error{errc::bad_session_state, "ratchet state holds too many skipped keys"};
  for (std::uint32_t i = 0; i < n_skipped; ++i) {
    key32 pub{};
    std::uint32_t n = 0;
    skipped_key k;
    std::uint64_t ms = 0;
    if (!r.key(pub) || !r.u32(n) || !r.key(k.mk) || !r.u64(ms)) return bad("skipped keys");
    k.stored_ms = static_cast<std::int64_t>(ms);
    std::pair<key32, std::uint32_t> slot{pub, n};
    if (!out.skipped_.empty() && !(out.skipped_.rbegin()->first < slot))
      return error{errc::bad_session_state, "ratchet skipped keys not strictly increasing"};
    out.skipped_[slot] = k;
  }
  return out;
}

} // namespace aqua::e2ee
