#include "core/keyed_hash.hpp"

#include <cstring>

#include <sodium.h>

#include "core/sodium.hpp"

namespace aqua::detail {

std::size_t keyed_hash(const void* data, std::size_t size) noexcept {
  static const auto key = [] {  // per process; only bucket placement depends on it
    ensure_sodium();
    std::array<unsigned char, crypto_shorthash_KEYBYTES> k{};
    randombytes_buf(k.data(), k.size());
    return k;
  }();
  unsigned char h[crypto_shorthash_BYTES];
  crypto_shorthash(h, static_cast<const unsigned char*>(data), size, key.data());
  std::size_t out = 0;
  std::memcpy(&out, h, sizeof out < sizeof h ? sizeof out : sizeof h);
  return out;
}

} // namespace aqua::detail
