#pragma once
// Private: one UTF-8 sequence, checked (the control API's "text" and the
// CLI's terminal output both decide with it what counts as text).

#include <cstddef>
#include <cstdint>

namespace aqua::detail {

// The length (2 to 4) of the UTF-8 sequence starting at p[0] (a byte >= 0x80,
// `left` bytes available) if it is the shortest form of a scalar value (no
// surrogates, at most U+10FFFF) and not a C1 control (U+0080..U+009F) unless
// `accept_c1` (valid UTF-8 all the same: text that is only shown escaped); else 0.
inline std::size_t utf8_sequence(const std::uint8_t* p, std::size_t left, bool accept_c1 = false) {
  const std::uint8_t c = p[0];
  const std::size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (n == 0 || c > 0xf4 || n > left) return 0;
  std::uint32_t cp = c & (0x7f >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if ((p[k] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[k] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff) ||
      (!accept_c1 && cp >= 0x80 && cp <= 0x9f))
    return 0;
  return n;
}

} // namespace aqua::detail
