#include "output.hpp"

#include "commands.hpp"
#include "core/json_text.hpp"
#include "identity/key_store.hpp"

#include <ctime>
#include <iostream>

namespace aqua::cli {

int exit_code_for(const error& e) {
  switch (e.code()) {
    case errc::config_syntax:
    case errc::config_unknown_key:
    case errc::config_wrong_type:
    case errc::config_missing_field:
    case errc::config_bad_value:
    case errc::config_bad_address:
    case errc::config_unreadable:
      return exit_config;
    case errc::insecure_permissions:
    case errc::bad_key_file:
    case errc::already_exists:
    case errc::bad_base58:
    case errc::wrong_multihash:
    case errc::wrong_key_type:
    case errc::wrong_key_length:
    case errc::bad_public_key_encoding:
    case errc::bad_card:
    case errc::bad_card_signature:
    case errc::card_expired:
    case errc::no_identity:
      return exit_identity;
    case errc::invalid_argument:
      return exit_usage;
    case errc::not_running:
      return exit_no_daemon;
    case errc::timeout:
      return exit_timeout;
    default:
      return exit_failure;
  }
}

int report(const error& e, bool json, const nlohmann::json& extra) {
  if (json) {
    nlohmann::json err{{"code", std::string(to_string(e.code()))}, {"message", e.message()}};
    if (extra.is_object()) err.update(extra);
    print_json({{"error", std::move(err)}});
  } else {
    // Messages quote what they refuse (a card's capability, a peer's text): never raw escape sequences on a terminal.
    std::cerr << "aqua: error: " << terminal_text(e.what(), true) << "\n";
  }
  return exit_code_for(e);
}

std::string init_hint(const std::filesystem::path& dir) { return "run 'aqua --dir " + dir.string() + " init' first"; }

error no_identity_in(const std::filesystem::path& dir, const std::string& detail) {
  return error{errc::no_identity,
               "no identity in '" + dir.string() + "'" + (detail.empty() ? "" : " (" + detail + ")") + "; " + init_hint(dir)};
}

result<std::filesystem::path> identity_key_path(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir / config_file_name, ec)) return dir / key_file_name;
  // The key the node serves with: its config may name another file (components.identity.key_file).
  auto cfg = load_config(dir / config_file_name);
  if (!cfg) return cfg.err();
  return cfg->identity.key_file;
}

result<node_paths> paths_of(const global_options& g) {
  auto dir = resolve_data_dir(g.dir);
  if (!dir) return dir.err();
  std::error_code ec;
  if (!std::filesystem::exists(*dir / config_file_name, ec)) return node_paths{*dir, *dir, *dir / key_file_name};
  auto cfg = load_config(*dir / config_file_name);
  if (!cfg) return cfg.err();
  return node_paths{*dir, cfg->data_dir, cfg->identity.key_file};
}

result<keypair> read_identity(const std::filesystem::path& dir) {
  auto path = identity_key_path(dir);
  if (!path) return path.err();
  auto kp = read_key_file(*path);
  if (!kp && kp.err().code() == errc::no_identity)
    return no_identity_in(dir, *path == dir / key_file_name ? std::string()
                                                           : "components.identity.key_file " + path->string());
  return kp;
}

result<node_config> load_node_config(const global_options& g, const std::string& config) {
  if (!config.empty()) {
    auto cfg = load_config(config);
    if (!cfg || !g.dir) return cfg;
    // Both given: they must name one data dir, or --dir would be silently ignored.
    auto dir = resolve_data_dir(g.dir);
    if (!dir) return dir.err();
    std::error_code ec1, ec2;
    const auto a = std::filesystem::weakly_canonical(*dir, ec1), b = std::filesystem::weakly_canonical(cfg->data_dir, ec2);
    if (!ec1 && !ec2 && a != b)
      return error{errc::invalid_argument, "--dir '" + dir->string() + "' and --config '" + config +
                                               "' name different data dirs (the config's is '" +
                                               cfg->data_dir.string() + "': its node.data_dir, or its own directory)"
                                               "; give one of them"};
    return cfg;
  }
  auto dir = resolve_data_dir(g.dir);
  if (!dir) return dir.err();
  std::error_code ec;
  if (!std::filesystem::exists(*dir / config_file_name, ec) && !std::filesystem::exists(*dir / key_file_name, ec))
    return no_identity_in(*dir);
  return load_config(*dir / config_file_name);
}

void print_json(const nlohmann::json& j) { std::cout << detail::json_text(j) << std::endl; }

error stopped_by_store_failure(const std::string& what, const error& failure) {
  return error{failure.code(), "the node's store failed, so " + what + " stopped: " + failure.message() +
                                 " (nothing durable is lost: restart once the cause is fixed)"};
}

// "2026-11-27 17:45:02Z" for a Unix time in milliseconds.
std::string utc_time(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(ms) + " ms";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

} // namespace aqua::cli
