#include "agent_trace.hpp"

#include "core/terminal_text.hpp"

#include <cstdio>

namespace aqua::cli {

namespace {

std::string fmt(const char* format, auto... xs) {
  char buf[512];
  std::snprintf(buf, sizeof buf, format, xs...);
  return buf;
}

std::string short_id(const peer_id& id) {
  if (id.empty()) return "";
  auto s = id.str();
  return s.size() > 16 ? s.substr(0, 8) + ".." + s.substr(s.size() - 6) : s;
}

} // namespace

namespace {

std::string format_raw(const agent_event& e) {
  auto t = fmt("%8.1f ms  ", e.elapsed_ms);
  if (e.kind == "started")
    return t + fmt("%-12s started (plugin %s) as %s", e.from.c_str(), e.text.c_str(), e.from_id.str().c_str());
  if (e.kind == "note") return t + fmt("%-12s | %s", e.from.c_str(), e.text.c_str());
  if (e.kind == "request")
    return t + fmt("%-12s -> %-12s request %-15s %5zu B  sealed for %s", e.from.c_str(), e.to.c_str(),
                   e.type.c_str(), e.body_bytes, short_id(e.to_id).c_str());
  if (e.kind == "reply" || e.kind == "error")
    return t + fmt("%-12s <- %-12s %-7s %-15s %5zu B  via %s, opened+authenticated, %.1f ms round trip%s%s",
                   e.to.c_str(), e.from.c_str(), e.kind.c_str(), e.type.c_str(), e.body_bytes, e.transport.c_str(),
                   e.round_trip_ms, e.text.empty() ? "" : ": ", e.text.c_str());
  if (e.kind == "timeout")
    return t + fmt("%-12s -> %-12s TIMEOUT %-15s after %.1f ms", e.from.c_str(), e.to.c_str(), e.type.c_str(),
                   e.round_trip_ms);
  return t + fmt("%-12s -> %-12s %-7s %-15s %5zu B  via %s", e.from.c_str(), e.to.c_str(), e.kind.c_str(),
                 e.type.c_str(), e.body_bytes, e.transport.c_str());
}

} // namespace

// Types, notes and error texts come from agents, some of them remote: escaped for the terminal.
std::string format_agent_event(const agent_event& e) { return terminal_text(format_raw(e)); }

nlohmann::json agent_event_json(const agent_event& e) {
  nlohmann::json j{{"event", "agent"},         {"kind", e.kind},       {"ms", e.elapsed_ms},
                   {"from", e.from},           {"to", e.to},           {"type", e.type},
                   {"bytes", e.body_bytes},    {"transport", e.transport}};
  if (!e.from_id.empty()) j["from_id"] = e.from_id.str();
  if (!e.to_id.empty()) j["to_id"] = e.to_id.str();
  if (!e.correlation.empty()) j["correlation"] = e.correlation;
  if (e.round_trip_ms > 0) j["round_trip_ms"] = e.round_trip_ms;
  if (!e.text.empty()) j["text"] = e.text;
  return j;
}

} // namespace aqua::cli
