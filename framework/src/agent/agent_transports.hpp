#pragma once
// Private: the transports of a hosted agent's node (agent_host.cpp), for
// `aqua config check` too.

#include <string>
#include <vector>

#include "aqua/config.hpp"

namespace aqua::agents {

// A transport of plugin `plugin` for an agent's node, listening on `listen`, with the settings of the daemon's
// transport of that plugin in `daemon` (if it has one).
transport_config agent_transport(const node_config& daemon, const std::string& plugin, std::vector<std::string> listen);

} // namespace aqua::agents
