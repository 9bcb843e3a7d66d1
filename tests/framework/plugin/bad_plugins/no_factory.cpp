// A deliberately broken plugin: right ABI and name, but no factory symbol.
#include <aqua/transport.hpp>
#include <boost/config.hpp>

extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t aqua_plugin_abi_version = aqua::transport_abi_version;
extern "C" BOOST_SYMBOL_EXPORT const char* const aqua_plugin_name = "no_factory";
