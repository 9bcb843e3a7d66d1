// Agent plugins: the same search path, library registry rules and error
// kinds as transports (plugin_loader), for libaqua_agent_<name>.so files
// exporting aqua_agent_abi_version, aqua_agent_plugin_name and
// aqua_agent_factory (AQUA_AGENT_PLUGIN in aqua/agent.hpp).

#include <boost/dll/shared_library.hpp>

#include "aqua/agent.hpp"
#include "plugin/plugin_loader.hpp"

namespace aqua {
namespace {

namespace fs = std::filesystem;
namespace dll = boost::dll;

std::string agent_file_name(const std::string& plugin) { return "libaqua_agent_" + plugin + ".so"; }

} // namespace

result<std::shared_ptr<agent>> load_agent_plugin(const std::vector<fs::path>& search_dirs, const agent_config& cfg) {
  plugin_loader dirs(search_dirs);  // adds $AQUA_PLUGIN_PATH and the install dirs
  auto found = dirs.find_file(agent_file_name(cfg.plugin), "agent plugin '" + cfg.plugin + "'");
  if (!found) return error{found.err().code(), "agent '" + cfg.name + "': " + found.err().message()};
  auto file = *found;
  auto lib = open_plugin_library(file);
  if (!lib) return error{lib.err().code(), "agent '" + cfg.name + "': " + lib.err().message()};
  auto& l = **lib;
  const std::string where = "agent '" + cfg.name + "': plugin '" + file.string() + "'";
  if (!l.has("aqua_agent_abi_version"))
    return error{errc::plugin_missing_symbol, where + " does not export aqua_agent_abi_version: not an aqua agent "
                                                      "plugin, or built without AQUA_AGENT_PLUGIN"};
  auto abi = l.get<const std::uint32_t>("aqua_agent_abi_version");
  if (abi != agent_abi_version)
    return error{errc::plugin_abi_mismatch, where + " was built for agent ABI " + std::to_string(abi) +
                                                ", but this aqua uses agent ABI " + std::to_string(agent_abi_version) +
                                                "; rebuild the plugin against this aqua"};
  if (!l.has("aqua_agent_plugin_name"))
    return error{errc::plugin_missing_symbol, where + " does not export aqua_agent_plugin_name"};
  std::string name = l.get<const char* const>("aqua_agent_plugin_name");
  if (name != cfg.plugin)
    return error{errc::plugin_name_mismatch, where + " calls itself '" + name + "', expected '" + cfg.plugin + "'"};
  if (!l.has("aqua_agent_factory"))
    return error{errc::plugin_missing_symbol, where + " does not export the factory symbol aqua_agent_factory"};
  auto& factory = l.get_alias<agent_factory_fn>("aqua_agent_factory");
  auto made = call_factory(factory, cfg);  // a throw becomes an error (located below)
  if (!made) return error{made.err().code(), where + ": " + made.err().message()};
  if (!*made) return error{errc::plugin_load_failed, where + ": the factory returned no agent"};
  std::shared_ptr<dll::shared_library> keep = *lib;
  agent* raw = made->release();
  return std::shared_ptr<agent>(raw, [keep](agent* a) { delete a; });
}

} // namespace aqua
