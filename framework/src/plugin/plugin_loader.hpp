#pragma once
// Private: finds, loads and checks transport plugins (Boost.DLL).
//
// Search order: the config's node.plugin_path, then $AQUA_PLUGIN_PATH
// (colon-separated), then the install dir (<dir of libaqua>/aqua/plugins,
// then the configured install prefix). A plugin named N is the file
// libaqua_transport_N.so. Loaded libraries are cached per process (a name
// registry) and stay loaded while any transport made from them lives.

#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aqua/transport.hpp"

namespace boost::dll {
class shared_library;
}

namespace aqua {

// The process-wide registry shared by every plugin kind: one loaded library
// per canonical file path, kept while anything made from it lives.
// errc::plugin_load_failed with the dynamic loader's own message.
result<std::shared_ptr<boost::dll::shared_library>> open_plugin_library(const std::filesystem::path& file);

// Calls a plugin's factory; an exception it throws becomes errc::plugin_load_failed ("the factory threw: ...").
// None may leave: unwinding past the caller unloads the library, and the exception object's what() and
// destructor with it. Call it while the library is loaded.
template <class Factory, class Config>
auto call_factory(Factory& factory, const Config& cfg) -> decltype(factory(cfg)) {
  try {
    return factory(cfg);
  } catch (const std::exception& e) {
    return error{errc::plugin_load_failed, std::string("the factory threw: ") + e.what()};
  } catch (...) {
    return error{errc::plugin_load_failed, "the factory threw something that is not a std::exception"};
  }
}

class plugin_loader {
 public:
  explicit plugin_loader(const std::vector<std::filesystem::path>& config_dirs);

  const std::vector<std::filesystem::path>& search_path() const noexcept { return dirs_; }
  static std::string file_name(const std::string& plugin);

  // errc::plugin_not_found listing every dir searched.
  result<std::filesystem::path> find(const std::string& plugin) const;
  // The first `file_name` on the search path; `what` names it in the error
  // ("transport plugin 'zmq'", "agent plugin 'writer'").
  result<std::filesystem::path> find_file(const std::string& file_name, const std::string& what) const;
  // Finds, dlopens and checks ABI, name and factory, then calls the factory.
  result<std::shared_ptr<transport>> load_transport(const transport_config& cfg) const;
  // Every transport of `cfg` (name, transport), in config order, from cfg.plugin_path; errors name the config
  // file, line and key path (located_error). What node::start and `aqua config check` load.
  static result<std::vector<std::pair<std::string, std::shared_ptr<transport>>>> load_transports(const node_config& cfg);
  // Same checks on an explicit file (used by find-less callers and tests).
  static result<std::shared_ptr<transport>> load_transport_file(const std::filesystem::path& file,
                                                                const transport_config& cfg);

 private:
  std::vector<std::filesystem::path> dirs_;
};

} // namespace aqua
