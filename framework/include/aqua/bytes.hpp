#pragma once
// Byte buffers and the text encodings aqua uses on its surfaces.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aqua/error.hpp"

namespace aqua {

using bytes = std::vector<std::uint8_t>;
using bytes_view = std::span<const std::uint8_t>;

std::string to_hex(bytes_view data);
result<bytes> from_hex(std::string_view text);

std::string base58_encode(bytes_view data);
result<bytes> base58_decode(std::string_view text);

inline bytes_view as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Constant-time equality (sodium_memcmp); false when sizes differ.
bool equal_ct(bytes_view a, bytes_view b) noexcept;

} // namespace aqua
