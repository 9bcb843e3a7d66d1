// aqua config check FILE

#include <iostream>

#include "aqua/config.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace aqua::cli {
namespace {

int run_check(const global_options& g, const std::string& file) {
  auto cfg = load_config(file);
  if (!cfg) return report(cfg.err(), g.json);
  if (g.json) {
    nlohmann::json transports = nlohmann::json::array();
    for (auto& t : cfg->transports) transports.push_back({{"name", t.name}, {"plugin", t.plugin}, {"listen", t.listen}});
    print_json({{"ok", true}, {"file", file}, {"name", cfg->name}, {"data_dir", cfg->data_dir.string()},
                {"transports", transports}, {"routes", cfg->routing.routes.size()}, {"relay_serve", cfg->relay.serve}});
  } else {
    std::cout << file << ": OK (node '" << cfg->name << "', data dir " << cfg->data_dir.string() << ", "
              << cfg->transports.size() << " transport(s), " << cfg->routing.routes.size() << " route(s))\n";
  }
  return exit_ok;
}

} // namespace

void add_config_commands(CLI::App& app, global_options& g, int& rc) {
  auto* config = app.add_subcommand("config", "Validate node configuration files");
  config->require_subcommand(1);
  config->footer("Examples:\n  aqua config check ~/.aqua/config.yaml\n  aqua config check --json configs/node.example.yaml");
  auto file = std::make_shared<std::string>();
  auto* check = config->add_subcommand("check", "Validate a YAML node config without starting anything");
  check->add_option("file", *file, "Config file")->required();
  check->footer("Examples:\n  aqua config check ~/.aqua/config.yaml\n  aqua config check --json configs/node.example.yaml");
  check->callback([&g, &rc, file] { rc = run_check(g, *file); });
}

} // namespace aqua::cli
