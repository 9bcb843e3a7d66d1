#include "core/terminal_text.hpp"

#include <cstdint>

#include "core/utf8.hpp"

namespace aqua {

std::string terminal_text(std::string_view s, bool multiline) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  auto escape = [&](std::uint8_t c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    if (c == '\n') {
      out += multiline ? "\n" : "\\n";
    } else if (c == '\t') {
      out += '\t';
    } else if (c < 0x20 || c == 0x7f) {
      escape(c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      // One UTF-8 sequence, copied if well formed and not a C1 control (U+0080..U+009F), else its bytes escaped.
      const auto n = detail::utf8_sequence(reinterpret_cast<const std::uint8_t*>(s.data()) + i, s.size() - i);
      if (n == 0) {
        escape(c);
        ++i;
        continue;
      }
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    ++i;
  }
  return out;
}

} // namespace aqua
