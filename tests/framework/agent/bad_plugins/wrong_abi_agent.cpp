// A deliberately broken agent plugin: built against agent ABI 999.
#include <aqua/agent.hpp>

namespace {
aqua::result<std::unique_ptr<aqua::agent>> make(const aqua::agent_config&) {
  return aqua::error{aqua::errc::invalid_argument, "never called"};
}
} // namespace

extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t aqua_agent_abi_version = 999;
extern "C" BOOST_SYMBOL_EXPORT const char* const aqua_agent_plugin_name = "wrong_abi";
BOOST_DLL_ALIAS(make, aqua_agent_factory)
