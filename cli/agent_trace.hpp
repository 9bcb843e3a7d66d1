#pragma once
// Printing the agent host's trace (aqua demo, aqua serve with agents).

#include <nlohmann/json.hpp>

#include <string>

#include "aqua/agent.hpp"

namespace aqua::cli {

// One readable line: time, who asked whom, what, over which transport, how long.
std::string format_agent_event(const agent_event& e);
nlohmann::json agent_event_json(const agent_event& e);

} // namespace aqua::cli
