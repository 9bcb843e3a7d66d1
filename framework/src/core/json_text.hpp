#pragma once
// Private: JSON to text for everything aqua writes (CLI output, control API
// lines, agent frames). Strings from argv, the store or a plugin may hold
// invalid UTF-8; nlohmann's plain dump() throws on those, this replaces
// them with U+FFFD.

#include <nlohmann/json.hpp>

#include <string>

namespace aqua::detail {

inline std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace aqua::detail
