// aqua config check [FILE]

#include <iostream>

#include "aqua/agent.hpp"
#include "aqua/config.hpp"
#include "agent/agent_transports.hpp"
#include "identity/key_store.hpp"
#include "plugin/plugin_loader.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace aqua::cli {
namespace {

// Finds and loads every plugin the config names and runs its factory, which checks the entry's settings: nothing
// listens, dials or starts. The first failure, located in the file.
result<void> check_plugins(const node_config& cfg) {
  if (auto t = plugin_loader::load_transports(cfg); !t) return t.err();
  if (auto made = agent_host::load(cfg); !made) return made.err();
  // An agent's listen addresses go to the zmq transport of its node (docs/agents.md): that factory checks them.
  for (std::size_t i = 0; i < cfg.agents.size(); ++i) {
    if (cfg.agents[i].listen.empty()) continue;
    if (auto t = plugin_loader(cfg.plugin_path).load_transport(agents::agent_transport(cfg, "zmq", cfg.agents[i].listen)); !t)
      return located_error(cfg, "agents[" + std::to_string(i) + "]", {}, t.err());
  }
  return ok();
}

int run_check(const global_options& g, std::string file, bool plugins) {
  if (file.empty()) {  // the data dir's config, as `aqua serve` would read it
    auto dir = resolve_data_dir(g.dir);
    if (!dir) return report(dir.err(), g.json);
    std::error_code ec;
    if (!std::filesystem::exists(*dir / config_file_name, ec) && !std::filesystem::exists(*dir / key_file_name, ec))
      return report(no_identity_in(*dir), g.json);
    file = (*dir / config_file_name).string();
  }
  auto cfg = load_config(file);
  if (!cfg) return report(cfg.err(), g.json);
  if (plugins)
    if (auto r = check_plugins(*cfg); !r) return report(r.err(), g.json);
  if (g.json) {
    nlohmann::json transports = nlohmann::json::array();
    for (auto& t : cfg->transports) transports.push_back({{"name", t.name}, {"plugin", t.plugin}, {"listen", t.listen}});
    print_json({{"ok", true}, {"file", file}, {"name", cfg->name}, {"data_dir", cfg->data_dir.string()},
                {"transports", transports}, {"routes", cfg->routing.routes.size()}, {"relay_serve", cfg->relay.serve},
                {"agents", cfg->agents.size()}, {"plugins_checked", plugins}});
  } else {
    std::cout << file << ": OK (node '" << cfg->name << "', data dir " << cfg->data_dir.string() << ", "
              << cfg->transports.size() << " transport(s), " << cfg->agents.size() << " agent(s), "
              << cfg->routing.routes.size() << " route(s)" << (plugins ? ", plugins loaded" : "") << ")\n";
  }
  return exit_ok;
}

} // namespace

void add_config_commands(CLI::App& app, global_options& g, int& rc) {
  auto* config = app.add_subcommand("config", "Validate node configuration files");
  config->require_subcommand(1);
  config->footer("Examples:\n  aqua config check ~/.aqua/config.yaml\n  aqua config check --json configs/node.example.yaml");
  auto file = std::make_shared<std::string>();
  auto no_plugins = std::make_shared<bool>(false);
  auto* check = config->add_subcommand(
      "check", "Validate a YAML node config without starting anything: its keys and values, then every transport and "
               "agent plugin it names (found, loaded, ABI-checked, settings and a transport's listen addresses "
               "accepted by the plugin's factory; what only binding shows, such as a port in use, is left to "
               "'aqua serve')");
  check->add_option("file", *file, "Config file (default: config.yaml in the data dir, --dir or ~/.aqua)");
  check->add_flag("--no-plugins", *no_plugins, "Check the file only, not its plugins (e.g. on a machine without them)");
  check->footer("Examples:\n  aqua config check\n  aqua --dir ./node-b config check\n"
                "  aqua config check --json configs/node.example.yaml\n"
                "  aqua config check --no-plugins configs/demo-local.yaml");
  check->callback([&g, &rc, file, no_plugins] { rc = run_check(g, *file, !*no_plugins); });
}

} // namespace aqua::cli
