#pragma once
// Exporting a plugin. A transport plugin is a shared library that says:
//
//   #include <aqua/plugin.hpp>
//   aqua::result<std::unique_ptr<aqua::transport>> make(const aqua::transport_config&);
//   AQUA_TRANSPORT_PLUGIN(my_transport, make)
//
// and is installed as libaqua_transport_<name>.so somewhere on the plugin
// path. The macro exports three symbols the loader checks in this order:
//   aqua_plugin_abi_version  (std::uint32_t)   must equal transport_abi_version
//   aqua_plugin_name         (const char*)     must equal <name>
//   aqua_transport_factory   (transport_factory_fn*)

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>

#include "aqua/transport.hpp"

#define AQUA_TRANSPORT_PLUGIN(NAME, FACTORY)                                                    \
  extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t aqua_plugin_abi_version =                   \
      ::aqua::transport_abi_version;                                                            \
  extern "C" BOOST_SYMBOL_EXPORT const char* const aqua_plugin_name = #NAME;                    \
  BOOST_DLL_ALIAS(FACTORY, aqua_transport_factory)
