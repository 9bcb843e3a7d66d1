#include "identity/keypair.hpp"

#include <sodium.h>

#include <stdexcept>

#include "core/sodium.hpp"

namespace aqua {

struct keypair::secret {
  unsigned char* sk;  // 64 bytes: seed || pk
  secret() : sk(static_cast<unsigned char*>(sodium_malloc(crypto_sign_SECRETKEYBYTES))) {
    if (sk == nullptr) throw std::bad_alloc();
  }
  ~secret() { sodium_free(sk); }
  secret(const secret&) = delete;
  secret& operator=(const secret&) = delete;
};

result<keypair> keypair::from_seed(bytes_view seed) {
  if (seed.size() != seed_size)
    return error{errc::wrong_key_length, "Ed25519 seed must be 32 bytes, got " + std::to_string(seed.size())};
  detail::ensure_sodium();
  keypair kp;
  kp.sk_ = std::make_shared<secret>();
  std::array<std::uint8_t, public_key::size> pk{};
  crypto_sign_seed_keypair(pk.data(), kp.sk_->sk, seed.data());
  kp.pk_ = public_key{pk};
  return kp;
}

keypair keypair::generate() {
  detail::ensure_sodium();
  std::array<std::uint8_t, seed_size> seed{};
  randombytes_buf(seed.data(), seed.size());
  auto kp = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return std::move(kp).value();
}

bytes keypair::sign(bytes_view message) const {
  bytes sig(crypto_sign_BYTES);
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), sk_->sk);
  return sig;
}

bytes_view keypair::seed() const noexcept { return {sk_->sk, seed_size}; }

} // namespace aqua
