// A deliberately broken plugin: installed as "misnamed", calls itself "other".
#include <aqua/plugin.hpp>

namespace {
aqua::result<std::unique_ptr<aqua::transport>> make(const aqua::transport_config&) {
  return aqua::error{aqua::errc::invalid_argument, "never called"};
}
} // namespace

extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t aqua_plugin_abi_version = aqua::transport_abi_version;
extern "C" BOOST_SYMBOL_EXPORT const char* const aqua_plugin_name = "other";
BOOST_DLL_ALIAS(make, aqua_transport_factory)
