#include <charconv>

#include "aqua/transport.hpp"

namespace aqua {

result<std::uint64_t> parse_setting(const std::string& key, const std::string& value, std::uint64_t min,
                                    std::uint64_t max) {
  std::uint64_t out = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc{} || p != value.data() + value.size() || out < min || out > max)
    return error{errc::config_bad_value, "setting " + key + ": '" + value + "' is not an integer in " +
                                             std::to_string(min) + ".." + std::to_string(max)};
  return out;
}

} // namespace aqua
