#pragma once
// Private: the JSON views of messages, outbox records and status shared by
// the control API (docs/api/control.md) and the CLI's --json output, so
// both speak the same field names.

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aqua/node.hpp"

namespace aqua::control {

// Whether a payload shows as JSON "text": valid UTF-8 without control
// characters other than tab, newline and carriage return.
bool is_text(bytes_view b);
nlohmann::json to_json(const inbound_message& m);
nlohmann::json to_json(const outbound_message& m);
nlohmann::json to_json(const relay_server_status& r);
nlohmann::json to_json(const node_status& s);
nlohmann::json error_json(const error& e);
// Peer ID text -> contact alias (contacts without one are left out), and a
// message object with "sender_alias" when its sender has one.
using alias_map = std::unordered_map<std::string, std::string>;
alias_map aliases_of(const std::vector<contact_info>& contacts);
nlohmann::json to_json(const inbound_message& m, const alias_map& aliases);
// A request's "id" (null when it has none or is not an object), and the
// failure response that echoes it: {"id", "ok": false, "error": {...}}.
nlohmann::json request_id(const nlohmann::json& request);
nlohmann::json error_response(const nlohmann::json& id, const error& e);
// Whether a JSON text nests arrays/objects deeper than `limit` (strings are skipped, escapes honoured). Requests
// are refused before parsing when it does: the response echoes "id", and printing a value nested 100,000 deep
// recursed once per level and overflowed the client thread's stack.
inline constexpr std::size_t max_request_depth = 64;
bool nests_deeper_than(std::string_view text, std::size_t limit);
// Whether a transport detail key is a relay's reservation state ("relay <address>"; relay_v2's other details
// about that relay add a word: "relay <address> last_error").
inline bool is_relay_state_key(std::string_view key) {
  return key.rfind("relay ", 0) == 0 && key.find(' ', 6) == std::string_view::npos;
}
// One request line as JSON, or invalid_argument: not valid JSON, nested deeper than max_request_depth, a key
// repeated in one object (a wrapper that checks the first "cmd" must not be bypassed by a second), or a number
// "id" that is not an integer of at most 64 bits (it could not be echoed exactly). A refused request's id is null.
result<nlohmann::json> parse_request(std::string_view line);

} // namespace aqua::control
