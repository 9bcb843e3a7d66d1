#pragma once
// Private: the agent frame, the application payload of every agent message
// (docs/agents.md, "Wire format"). It travels inside the end-to-end
// encrypted envelope like any message payload, with the message topic
// `agent_topic`; relays and transports never see it. JSON, so agents in
// other languages (examples/python_agent) speak it with a standard library:
//
//   {"aqua_agent": 1, "kind": "request|reply|error|tell", "corr": "<32 hex>",
//    "type": "...", "from": "<sender's agent name>", "deadline_ms": <unix ms>,
//    "body": "<UTF-8 text>" | "body_hex": "<hex>",
//    "code": "<errc name>", "message": "..."}          (kind error only)

#include <cstdint>
#include <string>

#include "aqua/agent.hpp"
#include "aqua/bytes.hpp"
#include "aqua/error.hpp"

namespace aqua::agents {

inline constexpr const char* agent_topic = "aqua.agent.v1";
inline constexpr int frame_version = 1;

enum class frame_kind { request, reply, error, tell };
std::string_view to_string(frame_kind k);

struct frame {
  frame_kind kind = frame_kind::tell;
  std::string correlation;  // request id, echoed by reply/error
  std::string type;
  std::string from;         // sender's agent name, for display
  std::int64_t deadline_unix_ms = 0;
  bytes body;
  std::string error_code;   // kind error: an errc name
  std::string error_message;
};

// errc::invalid_argument for a frame decode() would refuse: type or from over
// 255 bytes, corr over 64 (or missing where required), error without code.
result<bytes> encode(const frame& f);
// errc::bad_frame for anything that is not a version-1 agent frame.
result<frame> decode(bytes_view payload);

// 16 random bytes as 32 hex digits.
std::string new_correlation();

} // namespace aqua::agents
