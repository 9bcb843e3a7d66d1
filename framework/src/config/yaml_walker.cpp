#include "config/yaml_walker.hpp"

#include <charconv>
#include <set>

namespace aqua::config_detail {

const char* kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "nothing (null)";
    default: return "an undefined value";
  }
}

std::string yaml_walker::where(const YAML::Node& n) const {
  auto mark = n.Mark();
  if (mark.is_null()) return source_;
  return source_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

void yaml_walker::fail_at(errc code, const YAML::Mark& mark, const std::string& path, const std::string& what) const {
  std::string msg = source_;
  if (!mark.is_null()) msg += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  msg += ": ";
  if (!path.empty()) msg += path + ": ";
  msg += what;
  throw config_failure{error{code, std::move(msg)}};
}

void yaml_walker::fail(errc code, const YAML::Node& at, const std::string& path, const std::string& what) const {
  fail_at(code, at.Mark(), path, what);
}

void yaml_walker::expect_map(const YAML::Node& n, const std::string& path) const {
  if (!n.IsMap()) fail(errc::config_wrong_type, n, path, std::string("expected a mapping, got ") + kind_name(n));
}

void yaml_walker::expect_list(const YAML::Node& n, const std::string& path) const {
  if (!n.IsSequence()) fail(errc::config_wrong_type, n, path, std::string("expected a list, got ") + kind_name(n));
}

void yaml_walker::check_keys(const YAML::Node& map, const std::string& path,
                             std::initializer_list<std::string_view> allowed) const {
  expect_map(map, path);
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) fail(errc::config_wrong_type, key, path, "mapping keys must be scalars");
    const std::string& k = key.Scalar();
    if (!seen.insert(k).second) fail(errc::config_syntax, key, join(path, k), "duplicate key");
    bool ok = false;
    for (auto a : allowed) ok = ok || a == k;
    if (!ok) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(errc::config_unknown_key, key, join(path, k), "unknown key (allowed here: " + list + ")");
    }
  }
}

YAML::Node yaml_walker::child(const YAML::Node& map, const std::string& path, const char* key, bool required) const {
  const YAML::Node& cmap = map;
  YAML::Node c = cmap[key];
  if (!c.IsDefined() && required)
    fail(errc::config_missing_field, map, path, std::string("missing required key '") + key + "'");
  return c;
}

std::string yaml_walker::as_string(const YAML::Node& n, const std::string& path) const {
  if (!n.IsScalar()) fail(errc::config_wrong_type, n, path, std::string("expected a string, got ") + kind_name(n));
  return n.Scalar();
}

std::string yaml_walker::as_path(const YAML::Node& n, const std::string& path) const {
  auto s = as_string(n, path);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f)
      fail(errc::config_bad_value, n, path,
           "a path must not contain control characters (found byte " + std::to_string(c) +
             (c == 0 ? ", a NUL" : c == '\n' ? ", a newline" : "") + ")");
    // C1 controls (U+0080..U+009F, UTF-8 C2 80..C2 9F) are invisible too, e.g. NEL.
    if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9f)
      fail(errc::config_bad_value, n, path,
           "a path must not contain control characters (found U+00" +
             std::string(1, "0123456789ABCDEF"[static_cast<unsigned char>(s[i + 1]) >> 4]) +
             std::string(1, "0123456789ABCDEF"[static_cast<unsigned char>(s[i + 1]) & 15]) + ", a C1 control)");
  }
  return s;
}

bool yaml_walker::as_bool(const YAML::Node& n, const std::string& path) const {
  if (n.IsScalar()) {
    const auto& s = n.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  fail(errc::config_wrong_type, n, path,
       std::string("expected a boolean (true/false; yes/no and on/off are read as well), got ") + (n.IsScalar() ? "'" + n.Scalar() + "'" : kind_name(n)));
}

std::uint32_t yaml_walker::as_uint(const YAML::Node& n, const std::string& path, std::uint32_t min,
                                   std::uint32_t max) const {
  return static_cast<std::uint32_t>(as_uint64(n, path, min, max));
}

std::uint64_t yaml_walker::as_uint64(const YAML::Node& n, const std::string& path, std::uint64_t min,
                                     std::uint64_t max) const {
  if (!n.IsScalar()) fail(errc::config_wrong_type, n, path, std::string("expected an integer, got ") + kind_name(n));
  const auto& s = n.Scalar();
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!s.empty() && s[0] == '-' && s.find_first_not_of("0123456789", 1) == std::string::npos && s.size() > 1)
    fail(errc::config_bad_value, n, path,
         s + " is out of range " + std::to_string(min) + ".." + std::to_string(max) + " (no negative values)");
  if (ec == std::errc::result_out_of_range)  // digits, but beyond 64 bits: a number, only too large
    fail(errc::config_bad_value, n, path, s + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty())
    fail(errc::config_wrong_type, n, path, "expected an integer, got '" + s + "'");
  if (v < min || v > max)
    fail(errc::config_bad_value, n, path,
         std::to_string(v) + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
  return v;
}

std::vector<std::string> yaml_walker::as_string_list(const YAML::Node& n, const std::string& path) const {
  expect_list(n, path);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n.size(); ++i) out.push_back(as_string(n[i], index(path, i)));
  return out;
}

std::map<std::string, std::string> yaml_walker::as_scalar_map(const YAML::Node& n, const std::string& path) const {
  expect_map(n, path);
  std::map<std::string, std::string> out;
  for (auto it = n.begin(); it != n.end(); ++it) {
    auto key = as_string(it->first, path);
    if (!out.emplace(key, as_string(it->second, join(path, key))).second)
      fail(errc::config_syntax, it->first, join(path, key), "duplicate key");
  }
  return out;
}

std::string yaml_walker::join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string yaml_walker::index(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

} // namespace aqua::config_detail
