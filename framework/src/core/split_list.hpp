#pragma once
// Private: a setting that names several values in one string ("a, b,c"), as
// relay_v2's `relays` does (the plugin reads it, and `aqua card export` lists
// the addresses it stands for).

#include <cstddef>
#include <string>
#include <vector>

namespace aqua::detail {

// The non-empty pieces of `text` between `sep`s, without leading or trailing spaces and tabs, from the first
// `max_pieces` pieces (empty ones count; the rest of `text` is ignored).
inline std::vector<std::string> split_trimmed(const std::string& text, char sep, std::size_t max_pieces) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (std::size_t i = 0; i < max_pieces && at <= text.size(); ++i) {
    const auto end = text.find(sep, at);
    std::string one = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    one.erase(0, one.find_first_not_of(" \t"));
    one.erase(one.find_last_not_of(" \t") + 1);
    if (!one.empty()) out.push_back(std::move(one));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return out;
}

// The most relays a relay_v2 transport's `relays` setting names (further ones are ignored).
inline constexpr std::size_t max_relays_setting = 64;

} // namespace aqua::detail
