#pragma once
// Private: the JSON views of messages, outbox records and status shared by
// the control API (docs/api/control.md) and the CLI's --json output, so
// both speak the same field names.

#include <nlohmann/json.hpp>

#include "aqua/node.hpp"

namespace aqua::control {

// Printable ASCII, tabs and newlines only: such payloads also get "text".
bool is_text(bytes_view b);
nlohmann::json to_json(const inbound_message& m);
nlohmann::json to_json(const outbound_message& m);
nlohmann::json to_json(const relay_server_status& r);
nlohmann::json to_json(const node_status& s);
nlohmann::json error_json(const error& e);

} // namespace aqua::control
