// A deliberately broken agent plugin: its factory throws an exception type defined only in this library.
#include <aqua/agent.hpp>

#include <stdexcept>

namespace {
struct plugin_own_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

aqua::result<std::unique_ptr<aqua::agent>> make(const aqua::agent_config&) {
  throw plugin_own_error("model file missing");
}
} // namespace

extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t aqua_agent_abi_version = aqua::agent_abi_version;
extern "C" BOOST_SYMBOL_EXPORT const char* const aqua_agent_plugin_name = "throwing";
BOOST_DLL_ALIAS(make, aqua_agent_factory)
