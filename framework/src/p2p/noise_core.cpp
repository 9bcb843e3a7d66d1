#include "p2p/noise_core.hpp"

#include <sodium.h>

#include <cstring>
#include <string>

#include "core/sodium.hpp"
#include "e2ee/primitives.hpp"

namespace aqua::p2p::noise_detail {

secret32::~secret32() { sodium_memzero(v_.data(), v_.size()); }

secret32::secret32(secret32&& o) noexcept : v_(o.v_) { sodium_memzero(o.v_.data(), o.v_.size()); }

secret32& secret32::operator=(secret32&& o) noexcept {
  if (this != &o) {
    v_ = o.v_;
    sodium_memzero(o.v_.data(), o.v_.size());
  }
  return *this;
}

namespace {

std::array<std::uint8_t, e2ee::aead_nonce_size> nonce_bytes(std::uint64_t n) {
  std::array<std::uint8_t, e2ee::aead_nonce_size> a{};
  for (int i = 0; i < 8; ++i) a[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  return a;
}

key32 sha256_concat(bytes_view a, bytes_view b) {
  key32 out{};
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, a.data(), a.size());
  crypto_hash_sha256_update(&st, b.data(), b.size());
  crypto_hash_sha256_final(&st, out.data());
  return out;
}

// Noise's HKDF(ck, ikm, 2): temp = HMAC(ck, ikm); o1 = HMAC(temp, 0x01);
// o2 = HMAC(temp, o1 || 0x02). That is exactly RFC 5869 HKDF-SHA256 with
// salt = ck and empty info, so e2ee::hkdf_sha256 computes it (ck is never
// empty, so its zero-salt default never applies).
void hkdf2(const key32& ck, bytes_view ikm, key32& o1, key32& o2) {
  std::array<std::uint8_t, 64> out{};
  e2ee::hkdf_sha256(ck, ikm, {}, out);
  std::memcpy(o1.data(), out.data(), 32);
  std::memcpy(o2.data(), out.data() + 32, 32);
  e2ee::wipe(out);
}

const char* message_name(int m) {
  switch (m) {
    case 0: return "message 1 (-> e)";
    case 1: return "message 2 (<- e, ee, s, es)";
    default: return "message 3 (-> s, se)";
  }
}

} // namespace

// ---- cipher_state ----

void cipher_state::initialize_key(const key32& k) {
  k_.get() = k;
  has_key_ = true;
  n_ = 0;
}

result<void> cipher_state::encrypt_with_ad(bytes_view ad, bytes_view plain, bytes& out) {
  if (!has_key_) {
    out.insert(out.end(), plain.begin(), plain.end());
    return ok();
  }
  if (n_ == max_nonce)
    return error{errc::crypto_failure, "noise: nonce space exhausted (2^64-1 messages); the connection must be re-established"};
  e2ee::aead_seal(k_.get(), nonce_bytes(n_), ad, plain, out);
  ++n_;
  return ok();
}

result<bytes> cipher_state::decrypt_with_ad(bytes_view ad, bytes_view cipher) {
  if (!has_key_) return bytes(cipher.begin(), cipher.end());
  if (n_ == max_nonce)
    return error{errc::crypto_failure, "noise: nonce space exhausted (2^64-1 messages); the connection must be re-established"};
  if (cipher.size() < tag_size)
    return error{errc::decrypt_failed, "noise: ciphertext of " + std::to_string(cipher.size()) +
                                           " bytes is shorter than the 16-byte tag"};
  bytes out;
  if (!e2ee::aead_open(k_.get(), nonce_bytes(n_), ad, cipher, out))
    return error{errc::decrypt_failed, "noise: authentication failed (nonce " + std::to_string(n_) + ")"};
  ++n_;
  return out;
}

// ---- symmetric_state ----

symmetric_state::symmetric_state(std::string_view name) {
  detail::ensure_sodium();
  if (name.size() <= h_.size())
    std::memcpy(h_.data(), name.data(), name.size());  // zero-padded
  else
    h_ = sha256_concat(as_bytes(name), {});
  ck_.get() = h_;
}

void symmetric_state::mix_key(bytes_view ikm) {
  key32 ck{}, k{};
  hkdf2(ck_.get(), ikm, ck, k);
  ck_.get() = ck;
  cs_.initialize_key(k);
  e2ee::wipe(ck);
  e2ee::wipe(k);
}

void symmetric_state::mix_hash(bytes_view data) { h_ = sha256_concat(h_, data); }

result<void> symmetric_state::encrypt_and_hash(bytes_view plain, bytes& out) {
  const auto at = out.size();
  auto r = cs_.encrypt_with_ad(h_, plain, out);
  if (!r) return r;
  mix_hash(bytes_view(out).subspan(at));
  return ok();
}

result<bytes> symmetric_state::decrypt_and_hash(bytes_view cipher) {
  auto p = cs_.decrypt_with_ad(h_, cipher);
  if (p) mix_hash(cipher);
  return p;
}

std::pair<cipher_state, cipher_state> symmetric_state::split() const {
  key32 k1{}, k2{};
  hkdf2(ck_.get(), {}, k1, k2);
  std::pair<cipher_state, cipher_state> out;
  out.first.initialize_key(k1);
  out.second.initialize_key(k2);
  e2ee::wipe(k1);
  e2ee::wipe(k2);
  return out;
}

// ---- xx_state ----

xx_state::xx_state(role r, const key32& static_secret, const key32& ephemeral_secret, bytes_view prologue)
    : role_(r), ss_(protocol_name), s_sec_(static_secret), e_sec_(ephemeral_secret) {
  crypto_scalarmult_base(s_pub_.data(), s_sec_.get().data());
  crypto_scalarmult_base(e_pub_.data(), e_sec_.get().data());
  ss_.mix_hash(prologue);
}

bool xx_state::our_turn() const noexcept {
  if (failed_ || next_ >= 3) return false;
  return (next_ % 2 == 0) == (role_ == role::initiator);
}

std::size_t xx_state::overhead(int message) noexcept {
  switch (message) {
    case 0: return dh_size;                                  // e, payload in clear
    case 1: return dh_size + dh_size + tag_size + tag_size;  // e, enc(s), enc(payload)
    default: return dh_size + tag_size + tag_size;           // enc(s), enc(payload)
  }
}

error xx_state::fail(error e) {
  if (!failed_) failed_ = e;
  e2ee::wipe(e_sec_.get());
  e2ee::wipe(s_sec_.get());
  return e;
}

error xx_state::earlier() const {
  return error{failed_->code(), "noise handshake failed earlier: " + failed_->message()};
}

result<void> xx_state::mix_dh(const key32& sec, const key32& pub, std::string_view token) {
  key32 out{};
  if (!e2ee::dh(sec, pub, out)) {
    e2ee::wipe(out);
    return error{errc::crypto_failure, "noise: the remote's X25519 key is a low-order point (" + std::string(token) +
                                           " gave an all-zero result)"};
  }
  ss_.mix_key(out);
  e2ee::wipe(out);
  return ok();
}

result<void> xx_state::write_tokens(bytes& out) {
  switch (next_) {
    case 0:  // -> e
      out.insert(out.end(), e_pub_.begin(), e_pub_.end());
      ss_.mix_hash(e_pub_);
      return ok();
    case 1: {  // <- e, ee, s, es
      out.insert(out.end(), e_pub_.begin(), e_pub_.end());
      ss_.mix_hash(e_pub_);
      if (auto r = mix_dh(e_sec_.get(), re_, "ee"); !r) return r;
      if (auto r = ss_.encrypt_and_hash(s_pub_, out); !r) return r;
      return mix_dh(s_sec_.get(), re_, "es");
    }
    default: {  // -> s, se
      if (auto r = ss_.encrypt_and_hash(s_pub_, out); !r) return r;
      return mix_dh(s_sec_.get(), re_, "se");
    }
  }
}

result<bytes> xx_state::write_message(bytes_view payload) {
  if (failed_) return earlier();
  if (!our_turn())
    return error{errc::invalid_argument, next_ >= 3 ? "noise: handshake already complete"
                                                    : std::string("noise: not our turn, waiting for ") + message_name(next_)};
  if (payload.size() > max_message_size - overhead(next_))
    return error{errc::frame_too_large, std::string("noise: ") + message_name(next_) + " with a payload of " +
                                            std::to_string(payload.size()) + " bytes exceeds 65535 bytes"};
  bytes out;
  out.reserve(overhead(next_) + payload.size());
  if (auto r = write_tokens(out); !r) return fail(r.err());
  if (auto r = ss_.encrypt_and_hash(payload, out); !r) return fail(r.err());
  if (++next_ == 3) {
    e2ee::wipe(e_sec_.get());
    e2ee::wipe(s_sec_.get());
  }
  return out;
}

result<bytes> xx_state::read_tokens(bytes_view m) {
  std::size_t pos = 0;
  if (next_ <= 1) {  // e
    std::memcpy(re_.data(), m.data(), dh_size);
    pos = dh_size;
    ss_.mix_hash(re_);
  }
  if (next_ == 0) {
    // The responder's first DH (ee) happens when it writes message 2; check
    // the key now so a low-order point is refused where it arrives.
    key32 probe{};
    const bool good = e2ee::dh(e_sec_.get(), re_, probe);
    e2ee::wipe(probe);
    if (!good)
      return error{errc::crypto_failure, "noise: the remote's ephemeral X25519 key is a low-order point"};
  } else {
    if (next_ == 1)
      if (auto r = mix_dh(e_sec_.get(), re_, "ee"); !r) return r.err();
    auto s = ss_.decrypt_and_hash(m.subspan(pos, dh_size + tag_size));
    if (!s) return error{s.err().code(), std::string("noise: ") + message_name(next_) + ": static key: " + s.err().message()};
    std::memcpy(rs_.data(), s->data(), dh_size);
    has_rs_ = true;
    pos += dh_size + tag_size;
    // es for the initiator, se for the responder: our ephemeral, their static.
    if (auto r = mix_dh(e_sec_.get(), rs_, next_ == 1 ? "es" : "se"); !r) return r.err();
  }
  auto payload = ss_.decrypt_and_hash(m.subspan(pos));
  if (!payload)
    return error{payload.err().code(), std::string("noise: ") + message_name(next_) + ": payload: " + payload.err().message()};
  return payload;
}

result<bytes> xx_state::read_message(bytes_view m) {
  if (failed_) return earlier();
  if (next_ >= 3) return error{errc::invalid_argument, "noise: handshake already complete"};
  if (our_turn())
    return error{errc::invalid_argument, std::string("noise: it is our turn to write ") + message_name(next_)};
  // Every check from here on fails the handshake: the peer sent it.
  if (m.size() > max_message_size)
    return fail(error{errc::frame_too_large, std::string("noise: ") + message_name(next_) + " of " +
                                                 std::to_string(m.size()) + " bytes exceeds 65535 bytes"});
  if (m.size() < overhead(next_))
    return fail(error{errc::bad_frame, std::string("noise: ") + message_name(next_) + " is " + std::to_string(m.size()) +
                                           " bytes, needs at least " + std::to_string(overhead(next_))});
  auto payload = read_tokens(m);
  if (!payload) return fail(std::move(payload).err());
  if (++next_ == 3) {
    e2ee::wipe(e_sec_.get());
    e2ee::wipe(s_sec_.get());
  }
  return payload;
}

result<std::pair<cipher_state, cipher_state>> xx_state::split() {
  if (failed_) return earlier();
  if (next_ < 3) return error{errc::invalid_argument, "noise: handshake is not complete"};
  if (split_done_) return error{errc::invalid_argument, "noise: the handshake was already split into transport keys"};
  split_done_ = true;
  auto cs = ss_.split();
  if (role_ == role::initiator) return cs;
  return std::pair<cipher_state, cipher_state>{std::move(cs.second), std::move(cs.first)};
}

} // namespace aqua::p2p::noise_detail
