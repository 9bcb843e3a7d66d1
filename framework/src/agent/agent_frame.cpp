#include "agent/agent_frame.hpp"

#include <nlohmann/json.hpp>

#include "aqua/env.hpp"
#include "core/json_text.hpp"

namespace aqua::agents {
namespace {

constexpr std::size_t max_text = 255;  // type, from, codes: short labels

bool utf8_text(bytes_view b) {
  // JSON strings must be valid UTF-8; everything else goes as hex.
  std::size_t i = 0;
  while (i < b.size()) {
    std::uint8_t c = b[i];
    std::size_t n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : 99;
    if (n == 99 || (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f) return false;
    if (i + n >= b.size() && n > 0) return false;
    for (std::size_t k = 1; k <= n; ++k)
      if ((b[i + k] & 0xc0) != 0x80) return false;
    i += n + 1;
  }
  return true;
}

frame_kind kind_from(const std::string& s, bool& ok) {
  ok = true;
  if (s == "request") return frame_kind::request;
  if (s == "reply") return frame_kind::reply;
  if (s == "error") return frame_kind::error;
  if (s == "tell") return frame_kind::tell;
  ok = false;
  return frame_kind::tell;
}

} // namespace

std::string_view to_string(frame_kind k) {
  switch (k) {
    case frame_kind::request: return "request";
    case frame_kind::reply: return "reply";
    case frame_kind::error: return "error";
    case frame_kind::tell: return "tell";
  }
  return "tell";
}

result<bytes> encode(const frame& f) {
  // The limits decode() enforces: a frame it would drop is refused here, where the sender can still be told.
  auto too_long = [](const char* what, std::size_t size, std::size_t max) {
    return error{errc::invalid_argument, std::string("agent frame: '") + what + "' of " + std::to_string(size) +
                                             " bytes; at most " + std::to_string(max)};
  };
  if (f.type.size() > max_text) return too_long("type", f.type.size(), max_text);
  if (f.from.size() > max_text) return too_long("from", f.from.size(), max_text);
  if (f.correlation.size() > 64) return too_long("corr", f.correlation.size(), 64);
  if (f.kind != frame_kind::tell && f.correlation.empty())
    return error{errc::invalid_argument, "agent frame: a " + std::string(to_string(f.kind)) + " needs a 'corr'"};
  if (f.kind == frame_kind::error && f.error_code.empty())
    return error{errc::invalid_argument, "agent frame: an error frame needs a 'code'"};
  nlohmann::json j{{"aqua_agent", frame_version}, {"kind", std::string(to_string(f.kind))}, {"type", f.type}};
  if (!f.correlation.empty()) j["corr"] = f.correlation;
  if (!f.from.empty()) j["from"] = f.from;
  if (f.deadline_unix_ms) j["deadline_ms"] = f.deadline_unix_ms;
  if (utf8_text(f.body))
    j["body"] = std::string(f.body.begin(), f.body.end());
  else
    j["body_hex"] = to_hex(f.body);
  if (f.kind == frame_kind::error) {
    j["code"] = f.error_code;
    j["message"] = f.error_message;
  }
  auto s = detail::json_text(j);
  return bytes(s.begin(), s.end());
}

result<frame> decode(bytes_view payload) {
  auto bad = [](const std::string& why) { return error{errc::bad_frame, "agent frame: " + why}; };
  auto j = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  auto v = j.find("aqua_agent");
  if (v == j.end() || !v->is_number_integer()) return bad("no 'aqua_agent' version");
  if (v->get<std::int64_t>() != frame_version)
    return error{errc::unknown_version, "agent frame version " + std::to_string(v->get<std::int64_t>())};
  auto str = [&](const char* key, bool required, std::string& out) -> bool {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return !required;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  frame f;
  std::string kind, body, body_hex;
  if (!str("kind", true, kind)) return bad("'kind' missing or not a string");
  bool ok = false;
  f.kind = kind_from(kind, ok);
  if (!ok) return bad("unknown kind '" + kind.substr(0, max_text) + "'");
  if (!str("type", false, f.type) || f.type.size() > max_text) return bad("'type' must be a string of at most 255 bytes");
  if (!str("from", false, f.from) || f.from.size() > max_text) return bad("'from' must be a string of at most 255 bytes");
  if (!str("corr", f.kind != frame_kind::tell, f.correlation) || f.correlation.size() > 64 ||
      (f.kind != frame_kind::tell && f.correlation.empty()))  // a reply could not name its request
    return bad("'corr' missing or not a string of 1 to 64 bytes");
  if (auto it = j.find("deadline_ms"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer()) return bad("'deadline_ms' must be an integer");
    f.deadline_unix_ms = it->get<std::int64_t>();
  }
  if (!str("body", false, body) || !str("body_hex", false, body_hex)) return bad("'body'/'body_hex' must be strings");
  if (!body_hex.empty()) {
    auto raw = from_hex(body_hex);
    if (!raw) return bad("'body_hex' is not hex");
    f.body = std::move(*raw);
  } else {
    f.body.assign(body.begin(), body.end());
  }
  if (f.kind == frame_kind::error) {
    if (!str("code", true, f.error_code) || f.error_code.empty() || !str("message", false, f.error_message))
      return bad("an error frame needs a string 'code' (not empty)");
  }
  return f;
}

std::string new_correlation() {
  bytes b(16);
  system_env()->random_bytes(b);
  return to_hex(b);
}

} // namespace aqua::agents
