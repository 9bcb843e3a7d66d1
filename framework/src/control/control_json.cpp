#include "control/control_json.hpp"

#include <set>

#include "core/utf8.hpp"

namespace aqua::control {

bool is_text(bytes_view b) {
  for (std::size_t i = 0; i < b.size();) {
    const std::uint8_t c = b[i];
    if (c >= 0x80) {
      const auto n = detail::utf8_sequence(b.data() + i, b.size() - i);
      if (n == 0) return false;
      i += n;
      continue;
    }
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return false;  // ASCII: printable, tab, LF, CR
    ++i;
  }
  return true;
}

nlohmann::json to_json(const inbound_message& m) {
  nlohmann::json j{{"seq", m.sequence},
                   {"message_id", m.message_id},
                   {"sender", m.sender.str()},
                   {"received_ms", m.received_unix_ms},
                   {"state", m.read ? "read" : "unread"},
                   {"trust", m.trust},
                   {"quarantined", m.quarantined},
                   {"transport", m.transport},
                   {"topic", m.topic},
                   {"payload_hex", to_hex(m.payload)}};
  if (is_text(m.payload)) j["text"] = std::string(m.payload.begin(), m.payload.end());
  return j;
}

alias_map aliases_of(const std::vector<contact_info>& contacts) {
  alias_map out;
  for (auto& c : contacts)
    if (!c.alias.empty()) out.emplace(c.id.str(), c.alias);
  return out;
}

nlohmann::json to_json(const inbound_message& m, const alias_map& aliases) {
  auto j = to_json(m);
  if (auto it = aliases.find(j["sender"].get_ref<const std::string&>()); it != aliases.end()) j["sender_alias"] = it->second;
  return j;
}

nlohmann::json to_json(const outbound_message& m) {
  return {{"message_id", m.message_id},   {"recipient", m.recipient.str()}, {"state", m.state},
          {"attempts", m.attempts},       {"created_ms", m.created_unix_ms}, {"expires_ms", m.expires_unix_ms},
          {"delivered_ms", m.delivered_unix_ms}, {"last_error", m.last_error}};
}

nlohmann::json to_json(const relay_server_status& r) {
  return {{"serving", r.serving},
          {"addresses", r.addresses},
          {"connections", r.connections},
          {"reservations", r.reservations},
          {"circuits", r.circuits},
          {"reservations_granted", r.reservations_granted},
          {"reservations_refused", r.reservations_refused},
          {"connects_granted", r.connects_granted},
          {"connects_refused", r.connects_refused},
          {"bytes_relayed", r.bytes_relayed},
          {"hop_refused", r.hop_refused},
          {"circuits_limited", r.circuits_limited},
          {"service_streams", r.service_streams},
          {"mailbox",
           {{"serving", r.mailbox},
            {"held", r.mail_held},
            {"held_bytes", r.mail_held_bytes},
            {"recipients", r.mail_recipients},
            {"stored", r.mail_stored},
            {"duplicates", r.mail_duplicates},
            {"refused", r.mail_refused},
            {"delivered", r.mail_delivered},
            {"expired", r.mail_expired}}},
          {"card_directory", {{"serving", r.mailbox}, {"cards", r.cards_held}}}};
}

nlohmann::json to_json(const node_status& s) {
  return {{"peer_id", s.id.str()},
          {"relay", to_json(s.relay)},
          {"listen", s.listen_addresses},
          {"connections", s.connections},
          {"frames_sent", s.frames_sent},
          {"frames_received", s.frames_received},
          {"messages_received", s.messages_received},
          {"frames_rejected", s.frames_rejected},
          {"frames_forwarded", s.frames_forwarded},
          {"outbox_pending", s.outbox_pending},
          {"inbox_unread", s.inbox_unread},
          {"frames_waiting", s.frames_waiting},
          {"connections_blocked", s.connections_blocked},
          {"frames_deposited", s.frames_deposited},
          {"store_failure", s.store_failure.empty() ? nlohmann::json() : nlohmann::json(s.store_failure)},
          {"transports", [&] {
             auto list = nlohmann::json::array();
             for (auto& t : s.transports) {
               auto details = nlohmann::json::array();
               for (auto& [k, v] : t.details) details.push_back({k, v});
               list.push_back({{"name", t.name}, {"listen", t.listen_addresses}, {"details", details}});
             }
             return list;
           }()}};
}

nlohmann::json error_json(const error& e) {
  return {{"code", std::string(to_string(e.code()))}, {"message", e.message()}};
}

nlohmann::json request_id(const nlohmann::json& request) {
  return request.is_object() && request.contains("id") ? request["id"] : nlohmann::json();
}

result<nlohmann::json> parse_request(std::string_view line) {
  if (nests_deeper_than(line, max_request_depth))
    return error{errc::invalid_argument,
                 "request nests arrays/objects deeper than " + std::to_string(max_request_depth) + " levels"};
  std::vector<std::set<std::string>> keys;  // per open object: the keys seen so far
  std::string repeated;
  auto check = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using ev_t = nlohmann::json::parse_event_t;
    if (ev == ev_t::object_start) keys.emplace_back();
    if (ev == ev_t::object_end && !keys.empty()) keys.pop_back();
    if (ev == ev_t::key && !keys.empty() && parsed.is_string() &&
        !keys.back().insert(parsed.get<std::string>()).second && repeated.empty())
      repeated = parsed.get<std::string>();
    return true;
  };
  auto req = nlohmann::json::parse(line, check, false);
  if (req.is_discarded()) return error{errc::invalid_argument, "request is not valid JSON"};
  if (!repeated.empty())
    return error{errc::invalid_argument, "request repeats the key " + (repeated.size() <= 64 ? "'" + repeated + "'"
                                                                       : "of " + std::to_string(repeated.size()) + " bytes")};
  if (auto id = req.is_object() ? req.find("id") : req.end(); id != req.end() && id->is_number_float())
    return error{errc::invalid_argument, "a number id must be an integer of at most 64 bits (or use a string)"};
  return req;
}

bool nests_deeper_than(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

nlohmann::json error_response(const nlohmann::json& id, const error& e) {
  return {{"id", id}, {"ok", false}, {"error", error_json(e)}};
}

} // namespace aqua::control
