#pragma once
// Private: typed, located access to a YAML tree. Every failure throws
// config_failure carrying "<source>:<line>:<col>: <path>: <what>"; the
// loader converts it into an aqua::error at the boundary.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aqua/error.hpp"

namespace aqua::config_detail {

struct config_failure {
  error err;
};

class yaml_walker {
 public:
  explicit yaml_walker(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(errc code, const YAML::Node& at, const std::string& path, const std::string& what) const;
  [[noreturn]] void fail_at(errc code, const YAML::Mark& mark, const std::string& path, const std::string& what) const;

  void expect_map(const YAML::Node& n, const std::string& path) const;
  void expect_list(const YAML::Node& n, const std::string& path) const;
  // Unknown or duplicate keys are errors; `allowed` lists the legal ones.
  void check_keys(const YAML::Node& map, const std::string& path, std::initializer_list<std::string_view> allowed) const;
  // The child or an invalid node; fails with config_missing_field when `required`.
  YAML::Node child(const YAML::Node& map, const std::string& path, const char* key, bool required) const;

  std::string as_string(const YAML::Node& n, const std::string& path) const;
  // A file system path: a string without control characters (a NUL would cut the path short where the OS
  // reads it, and a newline or an escape garbles every message that names it): config_bad_value.
  std::string as_path(const YAML::Node& n, const std::string& path) const;
  bool as_bool(const YAML::Node& n, const std::string& path) const;
  std::uint32_t as_uint(const YAML::Node& n, const std::string& path, std::uint32_t min, std::uint32_t max) const;
  std::uint64_t as_uint64(const YAML::Node& n, const std::string& path, std::uint64_t min, std::uint64_t max) const;
  std::vector<std::string> as_string_list(const YAML::Node& n, const std::string& path) const;
  std::map<std::string, std::string> as_scalar_map(const YAML::Node& n, const std::string& path) const;

  // "<source>:<line>:<col>" of a node (just the source when it has no mark).
  std::string where(const YAML::Node& n) const;

  static std::string join(const std::string& path, std::string_view key);
  static std::string index(const std::string& path, std::size_t i);

 private:
  std::string source_;
};

const char* kind_name(const YAML::Node& n);

} // namespace aqua::config_detail
