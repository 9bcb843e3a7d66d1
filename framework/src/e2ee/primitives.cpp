#include "e2ee/primitives.hpp"

#include <sodium.h>

#include <chrono>
#include <cstring>

#include "core/sodium.hpp"

namespace aqua {

namespace {
class system_env_impl : public env {
 public:
  std::int64_t now_unix_ms() override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  void random_bytes(std::span<std::uint8_t> out) override { randombytes_buf(out.data(), out.size()); }
};
} // namespace

std::shared_ptr<env> system_env() {
  detail::ensure_sodium();
  static auto e = std::make_shared<system_env_impl>();
  return e;
}

deterministic_env::deterministic_env(std::uint8_t seed_byte, std::int64_t start_ms) : now_ms_(start_ms) {
  detail::ensure_sodium();
  std::memset(seed_, seed_byte, sizeof seed_);
}

void deterministic_env::random_bytes(std::span<std::uint8_t> out) {
  std::uint8_t s[32];
  std::memcpy(s, seed_, 32);
  for (int i = 0; i < 8; ++i) s[24 + i] ^= static_cast<std::uint8_t>(counter_ >> (8 * i));
  ++counter_;
  randombytes_buf_deterministic(out.data(), out.size(), s);
}

namespace e2ee {

x25519_keypair x25519_keypair::generate(env& e) {
  key32 sec{};
  e.random_bytes(sec);
  auto kp = from_secret(sec);
  wipe(sec);
  return kp;
}

x25519_keypair x25519_keypair::from_secret(const key32& sec) {
  x25519_keypair kp;
  kp.sec = sec;
  crypto_scalarmult_base(kp.pub.data(), kp.sec.data());
  return kp;
}

bool dh(const key32& sec, const key32& pub, key32& out) {
  return crypto_scalarmult(out.data(), sec.data(), pub.data()) == 0;
}

key32 hmac_sha256(bytes_view key, bytes_view data) {
  key32 out{};
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, data.data(), data.size());
  crypto_auth_hmacsha256_final(&st, out.data());
  sodium_memzero(&st, sizeof st);
  return out;
}

void blake2b_keyed(const key32& key, bytes_view data, std::span<std::uint8_t> out) {
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), key.data(), key.size());
}

void hkdf_sha256(bytes_view salt, bytes_view ikm, bytes_view info, std::span<std::uint8_t> out) {
  key32 zero{};
  auto prk = hmac_sha256(salt.empty() ? bytes_view(zero) : salt, ikm);
  key32 t{};
  std::size_t done = 0;
  std::uint8_t counter = 1;
  bytes block;
  while (done < out.size()) {
    block.clear();
    if (counter > 1) block.insert(block.end(), t.begin(), t.end());
    block.insert(block.end(), info.begin(), info.end());
    block.push_back(counter++);
    t = hmac_sha256(prk, block);
    auto n = std::min<std::size_t>(32, out.size() - done);
    std::memcpy(out.data() + done, t.data(), n);
    done += n;
  }
  wipe(prk);
  wipe(t);
  wipe(block);
}

void aead_seal(const key32& key, const std::array<std::uint8_t, aead_nonce_size>& nonce, bytes_view ad,
               bytes_view plain, bytes& out) {
  auto at = out.size();
  out.resize(at + plain.size() + aead_tag_size);
  unsigned long long clen = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data() + at, &clen, plain.data(), plain.size(), ad.data(), ad.size(),
                                            nullptr, nonce.data(), key.data());
}

bool aead_open(const key32& key, const std::array<std::uint8_t, aead_nonce_size>& nonce, bytes_view ad,
               bytes_view cipher, bytes& out) {
  if (cipher.size() < aead_tag_size) return false;
  out.resize(cipher.size() - aead_tag_size);
  unsigned long long plen = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &plen, nullptr, cipher.data(), cipher.size(), ad.data(),
                                                ad.size(), nonce.data(), key.data()) != 0) {
    out.clear();
    return false;
  }
  return true;
}

void wipe(std::span<std::uint8_t> s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
}

} // namespace e2ee
} // namespace aqua
