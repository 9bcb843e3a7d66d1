#pragma once
// Private: a keyed hash for hash tables whose keys a peer chooses (message
// IDs). SipHash-2-4 (libsodium's crypto_shorthash) under a random key drawn
// once per process, so nobody outside can pick keys that pile up in one
// bucket; std::hash (a fixed-seed MurmurHash) offers no such guarantee.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace aqua::detail {

std::size_t keyed_hash(const void* data, std::size_t size) noexcept;

struct keyed_hasher {
  std::size_t operator()(std::string_view s) const noexcept { return keyed_hash(s.data(), s.size()); }
  template <std::size_t N>
  std::size_t operator()(const std::array<std::uint8_t, N>& a) const noexcept {
    return keyed_hash(a.data(), a.size());
  }
};

} // namespace aqua::detail
