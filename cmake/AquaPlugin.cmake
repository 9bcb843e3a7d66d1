# For third-party plugins: aqua_transport_plugin(<name> sources...) builds
# libaqua_transport_<name>.so, which the aqua loader finds on its plugin path.
function(aqua_transport_plugin name)
  add_library(aqua_transport_${name} MODULE ${ARGN})
  set_target_properties(aqua_transport_${name} PROPERTIES PREFIX "lib" CXX_STANDARD 20)
  target_link_libraries(aqua_transport_${name} PRIVATE aqua::aqua)
endfunction()

# aqua_agent_plugin(<name> sources...) builds libaqua_agent_<name>.so, an
# agent plugin (aqua/agent.hpp, AQUA_AGENT_PLUGIN) the daemon starts from
# the `agents:` list of its config.
function(aqua_agent_plugin name)
  add_library(aqua_agent_${name} MODULE ${ARGN})
  set_target_properties(aqua_agent_${name} PROPERTIES PREFIX "lib" CXX_STANDARD 20)
  target_link_libraries(aqua_agent_${name} PRIVATE aqua::aqua)
endfunction()
