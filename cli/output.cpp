#include "output.hpp"

#include "commands.hpp"
#include "core/json_text.hpp"
#include "identity/key_store.hpp"

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

int report(const error& e, bool json) {
  if (json) {
    print_json({{"error", {{"code", std::string(to_string(e.code()))}, {"message", e.message()}}}});
  } else {
    std::cerr << "aqua: error: " << e.what() << "\n";
  }
  return exit_code_for(e);
}

result<node_config> load_node_config(const global_options& g, const std::string& config) {
  if (!config.empty()) return load_config(config);
  auto dir = resolve_data_dir(g.dir);
  if (!dir) return dir.err();
  return load_config(*dir / config_file_name);
}

void print_json(const nlohmann::json& j) { std::cout << detail::json_text(j) << std::endl; }

error stopped_by_store_failure(const std::string& what, const error& failure) {
  return error{failure.code(), "the node's store failed, so " + what + " stopped: " + failure.message() +
                                 " (nothing durable is lost: restart once the cause is fixed)"};
}

} // namespace aqua::cli
