// A deliberately broken plugin: its factory throws an exception type of its own (defined only in this
// library), as a plugin calling a throwing library might. The loader must report it without unloading
// the library first (what() and the destructor live here).
#include <aqua/transport.hpp>
#include <boost/dll/alias.hpp>

#include <stdexcept>

namespace {
struct plugin_own_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

aqua::result<std::unique_ptr<aqua::transport>> make(const aqua::transport_config& cfg) {
  if (cfg.settings.count("throw_int")) throw 42;
  throw plugin_own_error("cannot open /dev/imaginary");
}
} // namespace

extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t aqua_plugin_abi_version = aqua::transport_abi_version;
extern "C" BOOST_SYMBOL_EXPORT const char* const aqua_plugin_name = "throwing";
BOOST_DLL_ALIAS(make, aqua_transport_factory)
