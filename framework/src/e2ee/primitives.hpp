#pragma once
// Private: the few primitives the E2EE layer composes, all libsodium.
// HKDF-SHA256 is built from crypto_auth_hmacsha256 (libsodium 1.0.18 has
// no HKDF API), per RFC 5869.

#include <array>
#include <cstdint>

#include "aqua/bytes.hpp"
#include "aqua/env.hpp"
#include "core/codec.hpp"

namespace aqua::e2ee {

using codec::put_bytes;
using codec::put_u16;
using codec::put_u32;
using codec::put_u64;
using codec::reader;

using key32 = std::array<std::uint8_t, 32>;

struct x25519_keypair {
  key32 pub{};
  key32 sec{};
  static x25519_keypair generate(env& e);
  static x25519_keypair from_secret(const key32& sec);
};

// X25519; false when the result is all-zero (low-order peer key).
bool dh(const key32& sec, const key32& pub, key32& out);

key32 hmac_sha256(bytes_view key, bytes_view data);
// Keyed BLAKE2b (crypto_generichash) with an output of out.size() (16..64)
// bytes: the per-message KDFs, ~10x cheaper than HMAC-SHA256 here.
void blake2b_keyed(const key32& key, bytes_view data, std::span<std::uint8_t> out);
// HKDF-SHA256 extract+expand; out.size() <= 255*32.
void hkdf_sha256(bytes_view salt, bytes_view ikm, bytes_view info, std::span<std::uint8_t> out);

inline constexpr std::size_t aead_tag_size = 16;
inline constexpr std::size_t aead_nonce_size = 12;
// ChaCha20-Poly1305 (IETF). seal appends ciphertext||tag to `out`.
void aead_seal(const key32& key, const std::array<std::uint8_t, aead_nonce_size>& nonce, bytes_view ad,
               bytes_view plain, bytes& out);
bool aead_open(const key32& key, const std::array<std::uint8_t, aead_nonce_size>& nonce, bytes_view ad,
               bytes_view cipher, bytes& out);

// Wipes with sodium_memzero.
void wipe(std::span<std::uint8_t> s);

} // namespace aqua::e2ee
