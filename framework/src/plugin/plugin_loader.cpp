#include "plugin/plugin_loader.hpp"

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <dlfcn.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "core/bounded_read.hpp"
#include "plugin/elf_check.hpp"

#ifndef AQUA_INSTALL_PLUGIN_DIR_ABS
#define AQUA_INSTALL_PLUGIN_DIR_ABS "/usr/local/lib/aqua/plugins"
#endif

namespace aqua {
namespace {

namespace fs = std::filesystem;
namespace dll = boost::dll;

// Process-wide registry: one loaded library per file.
std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<dll::shared_library>> registry;

} // namespace

result<std::shared_ptr<dll::shared_library>> open_plugin_library(const fs::path& file) {
  std::lock_guard<std::mutex> guard(registry_mutex);
  auto key = fs::weakly_canonical(file).string();
  if (auto it = registry.find(key); it != registry.end())
    if (auto lib = it->second.lock()) return lib;
  // Checked first: the dynamic loader trusts the file, and a truncated one kills the process (SIGBUS).
  auto image = detail::read_file_bounded(file, std::size_t{1} << 30, "plugin '" + file.string() + "'", errc::plugin_load_failed);
  if (!image) return error{errc::plugin_load_failed, image.err().message()};
  if (auto why = detail::elf_image_problem(reinterpret_cast<const std::uint8_t*>(image->data()), image->size()); !why.empty())
    return error{errc::plugin_load_failed, "cannot load plugin '" + file.string() + "': " + why};
  std::error_code ec;
  auto lib = std::make_shared<dll::shared_library>();
  lib->load(file, ec, dll::load_mode::rtld_now | dll::load_mode::rtld_local);
  if (ec || !lib->is_loaded()) {
    std::string why = ec ? ec.message() : "unknown error";
    // Boost.DLL keeps only a generic error code: ask the dynamic loader
    // again for its precise message (bad ELF, missing dependency, ...).
    if (void* h = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL); h != nullptr) {
      ::dlclose(h);
    } else if (const char* msg = ::dlerror(); msg != nullptr) {
      why = msg;
    }
    return error{errc::plugin_load_failed, "cannot load plugin '" + file.string() + "': " + why};
  }
  registry[key] = lib;
  return lib;
}

plugin_loader::plugin_loader(const std::vector<fs::path>& config_dirs) : dirs_(config_dirs) {
  if (const char* env = std::getenv("AQUA_PLUGIN_PATH"); env != nullptr) {
    std::string s(env);
    std::size_t start = 0;
    while (start <= s.size()) {
      auto end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs_.emplace_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  std::error_code ec;
  auto self = dll::this_line_location(ec);
  if (!ec) dirs_.push_back(fs::weakly_canonical(fs::path(self.string())).parent_path() / "aqua" / "plugins");
  fs::path installed(AQUA_INSTALL_PLUGIN_DIR_ABS);
  bool seen = false;
  for (auto& d : dirs_) seen = seen || d.lexically_normal() == installed.lexically_normal();
  if (!seen) dirs_.push_back(installed);
}

std::string plugin_loader::file_name(const std::string& plugin) { return "libaqua_transport_" + plugin + ".so"; }

result<fs::path> plugin_loader::find(const std::string& plugin) const {
  return find_file(file_name(plugin), "transport plugin '" + plugin + "'");
}

result<fs::path> plugin_loader::find_file(const std::string& name, const std::string& what) const {
  std::string searched;
  for (auto& d : dirs_) {
    auto candidate = d / name;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
    searched += "\n  " + d.string();
  }
  return error{errc::plugin_not_found, what + " not found: no " + name +
                                           " in any of these dirs (node.plugin_path, AQUA_PLUGIN_PATH, install dir):" +
                                           searched};
}

result<std::shared_ptr<transport>> plugin_loader::load_transport(const transport_config& cfg) const {
  auto file = find(cfg.plugin);
  if (!file) return file.err();
  return load_transport_file(*file, cfg);
}

result<std::vector<std::pair<std::string, std::shared_ptr<transport>>>> plugin_loader::load_transports(
  const node_config& cfg) {
  plugin_loader loader(cfg.plugin_path);
  std::vector<std::pair<std::string, std::shared_ptr<transport>>> out;
  for (std::size_t i = 0; i < cfg.transports.size(); ++i) {
    auto& tc = cfg.transports[i];
    auto t = loader.load_transport(tc);
    if (!t) return located_error(cfg, "transports[" + std::to_string(i) + "]", tc.settings, t.err());
    out.emplace_back(tc.name, *t);
  }
  return out;
}

result<std::shared_ptr<transport>> plugin_loader::load_transport_file(const fs::path& file, const transport_config& cfg) {
  auto lib = open_plugin_library(file);
  if (!lib) return lib.err();
  auto& l = **lib;
  const std::string where = "plugin '" + file.string() + "'";
  if (!l.has("aqua_plugin_abi_version"))
    return error{errc::plugin_missing_symbol, where + " does not export aqua_plugin_abi_version: not an aqua plugin, "
                                                      "or built without AQUA_TRANSPORT_PLUGIN"};
  auto abi = l.get<const std::uint32_t>("aqua_plugin_abi_version");
  if (abi != transport_abi_version)
    return error{errc::plugin_abi_mismatch, where + " was built for transport ABI " + std::to_string(abi) +
                                                ", but this aqua uses transport ABI " +
                                                std::to_string(transport_abi_version) +
                                                "; rebuild the plugin against this aqua"};
  if (!l.has("aqua_plugin_name"))
    return error{errc::plugin_missing_symbol, where + " does not export aqua_plugin_name"};
  std::string name = l.get<const char* const>("aqua_plugin_name");
  if (name != cfg.plugin)
    return error{errc::plugin_name_mismatch, where + " calls itself '" + name + "', expected '" + cfg.plugin + "'"};
  if (!l.has("aqua_transport_factory"))
    return error{errc::plugin_missing_symbol, where + " does not export the factory symbol aqua_transport_factory"};
  auto& factory = l.get_alias<transport_factory_fn>("aqua_transport_factory");
  auto made = call_factory(factory, cfg);  // a throw becomes an error (located below)
  if (!made) return error{made.err().code(), "transport '" + cfg.name + "' (" + where + "): " + made.err().message()};
  std::shared_ptr<dll::shared_library> keep = *lib;
  transport* raw = made->release();
  return std::shared_ptr<transport>(raw, [keep](transport* t) { delete t; });
}

} // namespace aqua
