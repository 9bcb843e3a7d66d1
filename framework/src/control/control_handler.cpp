#include "control/control_handler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include "aqua/env.hpp"
#include "control/control_json.hpp"
#include "control/doctor.hpp"
#include "core/json_text.hpp"
#include "e2ee/envelope.hpp"

namespace aqua::control {

result<std::string> arg_string(const nlohmann::json& req, const char* cmd, const char* key, bool required) {
  auto it = req.find(key);
  if (it == req.end() || it->is_null()) {
    if (required) return error{errc::invalid_argument, std::string(cmd) + ": missing '" + key + "'"};
    return std::string();
  }
  if (!it->is_string()) return error{errc::invalid_argument, std::string(cmd) + ": '" + key + "' must be a string"};
  return it->get<std::string>();
}

result<std::uint64_t> arg_uint(const nlohmann::json& req, const char* cmd, const char* key, std::uint64_t fallback) {
  auto it = req.find(key);
  if (it == req.end() || it->is_null()) return fallback;
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0))
    return error{errc::invalid_argument, std::string(cmd) + ": '" + key + "' must be a non-negative integer"};
  return it->get<std::uint64_t>();
}

namespace {

bool given(const nlohmann::json& req, const char* key) {  // null is the same as leaving it out
  auto it = req.find(key);
  return it != req.end() && !it->is_null();
}

// A wait of the caller's choosing: at most a year (a bigger one would overflow the node's deadlines).
result<std::chrono::milliseconds> arg_wait(const nlohmann::json& req, const char* cmd, std::uint64_t fallback) {
  auto ms = arg_uint(req, cmd, "timeout_ms", fallback);
  if (!ms) return ms.err();
  if (*ms > 365ull * 24 * 3600 * 1000)  // 365 days, as ttl_s and the CLI's --timeout
    return error{errc::invalid_argument, std::string(cmd) + ": 'timeout_ms' is more than a year"};
  return std::chrono::milliseconds(*ms);
}

// The arguments each command takes (besides "id" and "cmd"): a misspelled one ("wiat", "limt") was ignored and the
// command ran without it.
const std::map<std::string, std::vector<std::string>, std::less<>>& command_arguments() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> args{
    {"hello", {}}, {"status", {}}, {"card", {"addresses", "capabilities", "validity_days"}}, {"card.renew", {"rotate"}},
    {"doctor", {"peer"}},
    {"send", {"to", "text", "payload_hex", "ttl_s", "message_id", "topic", "wait", "timeout_ms"}},
    {"receive", {"timeout_ms"}}, {"watch", {"since"}}, {"inbox.list", {"unread", "limit", "since"}},
    {"inbox.read", {"seq"}}, {"inbox.ack", {"seq"}}, {"inbox.delete", {"seq"}}, {"outbox.list", {"after"}},
    {"contacts.list", {}}, {"contacts.add", {"card", "alias"}}, {"contacts.show", {"who"}},
    {"contacts.verify", {"who"}}, {"contacts.block", {"who"}}, {"contacts.unblock", {"who"}},
    {"contacts.remove", {"who"}}, {"contacts.lookup", {"peer", "alias", "timeout_ms"}}};
  return args;
}

// A message ID argument: 32 hex digits, as the outbox keys them (lower case). Empty when not given.
result<std::string> arg_message_id(const nlohmann::json& req, const char* cmd, const char* key) {
  auto text = arg_string(req, cmd, key, false);
  if (!text || text->empty()) return text;
  auto raw = from_hex(*text);
  if (!raw || raw->size() != e2ee::message_id_size)
    return error{errc::invalid_argument, std::string(cmd) + ": '" + key + "' must be a message ID (32 hex digits), not '" +
                                           (text->size() > 40 ? text->substr(0, 40) + "..." : *text) + "'"};
  return to_hex(*raw);
}

// A list of strings; nullopt when not given.
result<std::optional<std::vector<std::string>>> arg_strings(const nlohmann::json& req, const char* cmd, const char* key) {
  auto it = req.find(key);
  if (it == req.end() || it->is_null()) return std::optional<std::vector<std::string>>();
  auto bad = error{errc::invalid_argument, std::string(cmd) + ": '" + key + "' must be an array of strings"};
  if (!it->is_array()) return bad;
  std::vector<std::string> out;
  for (auto& v : *it) {
    if (!v.is_string()) return bad;
    out.push_back(v.get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

} // namespace

result<void> check_arguments(const nlohmann::json& req, const std::string& cmd) {
  auto known = command_arguments().find(cmd);
  if (known == command_arguments().end() || !req.is_object()) return ok();  // unknown commands are refused as such
  for (auto& [key, value] : req.items()) {
    if (key == "id" || key == "cmd" || std::find(known->second.begin(), known->second.end(), key) != known->second.end())
      continue;
    std::string takes;
    for (auto& k : known->second) takes += (takes.empty() ? "" : ", ") + k;
    return error{errc::invalid_argument, cmd + ": unknown argument '" + key + "' (" + cmd + " takes " +
                                             (takes.empty() ? std::string("none") : takes) + ")"};
  }
  return ok();
}

result<bool> arg_bool(const nlohmann::json& req, const char* cmd, const char* key, bool fallback) {
  auto it = req.find(key);
  if (it == req.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return error{errc::invalid_argument, std::string(cmd) + ": '" + key + "' must be true or false"};
  return it->get<bool>();
}

nlohmann::json handler::handle(const nlohmann::json& request, const gone_fn& gone) {
  auto id = request_id(request);
  if (!request.is_object()) return error_response(id, error{errc::invalid_argument, "a request must be a JSON object"});
  auto cmd = arg_string(request, "request", "cmd", true);
  if (!cmd) return error_response(id, cmd.err());
  if (auto known = check_arguments(request, *cmd); !known) return error_response(id, known.err());
  auto r = [&]() -> result<nlohmann::json> {
    try {
      return dispatch(*cmd, request, gone);
    } catch (const std::exception& e) {  // a JSON access a command did not guard: a bug, not a reason to die
      spdlog::error("control: request failed unexpectedly: {}", e.what());
      return error{errc::invalid_argument, std::string("request not handled: ") + e.what()};
    }
  }();
  if (!r) return error_response(id, r.err());
  return {{"id", id}, {"ok", true}, {"result", std::move(*r)}};
}

result<peer_id> handler::resolve_peer(const std::string& who) {
  auto id = peer_id::parse(who);
  if (id) return *id;
  // No alias looks like a peer ID (contact_book refuses them): a mistyped one is a usage error, said as such.
  if (who.rfind("12D3KooW", 0) == 0)
    return error{errc::invalid_argument, "'" + who + "' is not a valid peer ID: " + id.err().message()};
  auto c = node_.find_contact(who);
  if (!c) return error{errc::not_found, "'" + who + "' is neither a peer ID nor a contact alias"};
  return c->id;
}

result<nlohmann::json> handler::send(const nlohmann::json& req, const gone_fn& gone) {
  auto to = arg_string(req, "send", "to", true);
  if (!to) return to.err();
  auto text = arg_string(req, "send", "text", false);
  auto hex = arg_string(req, "send", "payload_hex", false);
  if (!text) return text.err();
  if (!hex) return hex.err();
  if (given(req, "text") == given(req, "payload_hex"))
    return error{errc::invalid_argument, "send: give exactly one of 'text' and 'payload_hex'"};
  bytes payload;
  if (given(req, "text")) {
    payload.assign(text->begin(), text->end());
  } else {
    auto raw = from_hex(*hex);
    if (!raw) return error{errc::invalid_argument, "send: 'payload_hex' is not valid hex"};
    payload = std::move(*raw);
  }
  send_options o;
  auto ttl = arg_uint(req, "send", "ttl_s", 0);
  auto mid = arg_message_id(req, "send", "message_id");
  auto topic = arg_string(req, "send", "topic", false);
  auto wait = arg_bool(req, "send", "wait", false);
  auto timeout = arg_wait(req, "send", 30000);
  if (!ttl) return ttl.err();
  if (!mid) return mid.err();
  if (!topic) return topic.err();
  if (!wait) return wait.err();
  if (!timeout) return timeout.err();
  if (*ttl > 365ull * 24 * 3600) return error{errc::invalid_argument, "send: 'ttl_s' is more than a year"};
  auto peer = resolve_peer(*to);  // after the arguments: a usage error is reported as one
  if (!peer) return peer.err();
  o.ttl_ms = *ttl * 1000;
  o.message_id = *mid;
  o.topic = *topic;
  // A retry with a known message_id gets the message's current record (it may be sent, delivered or expired);
  // node::send still checks it against the first send (recipient, payload, topic).
  std::optional<outbound_message> before;
  if (!mid->empty() && !*wait) {
    auto known = outbox_record(*mid);
    if (!known) return known.err();
    before = std::move(*known);
  }
  const auto expiry_before = node_.contact_card_expiry(*peer);
  auto id = node_.send(*peer, std::move(payload), o);
  if (!id && id.err().code() == errc::unknown_session)  // the first message to a peer needs its card
    return error{errc::unknown_session, id.err().message() + ": add its card first (on its host 'aqua card export > "
                                        "peer.card', here 'aqua contacts add peer.card'), or have both nodes use one "
                                        "relay (aqua init --relay), where cards are looked up; a peer that wrote to "
                                        "this node first can be answered without one"};
  if (!id) return id.err();
  // send looked the card up on a relay (card-directory.md) and added the peer as an unverified contact, or
  // replaced a contact's expired card: say so.
  bool card_found = false, card_refreshed = false;
  if (!expiry_before || *expiry_before <= system_env()->now_unix_ms()) {
    const auto after = node_.contact_card_expiry(*peer);
    card_found = !expiry_before && after;
    card_refreshed = expiry_before && after && *after > *expiry_before;
  }
  auto with_card_flags = [&](nlohmann::json j) {
    if (card_found) j["card_found"] = true;
    if (card_refreshed) j["card_refreshed"] = true;
    return j;
  };
  nlohmann::json out{{"message_id", *id}, {"recipient", peer->str()}, {"state", "queued"}};
  if (!*wait) {
    return with_card_flags(before ? to_json(*before) : out);  // a retry changes nothing in the record
  }
  auto outcome =
    interruptible(*timeout, gone, [&](std::chrono::milliseconds slice) { return node_.await_outcome(*id, slice); });
  if (!outcome) {
    const auto& why = outcome.err().message();
    return error{outcome.err().code(), why + (why.find(*id) == std::string::npos ? " (message " + *id + ")" : "") +
                                         "; it stays in the outbox and is retried until it expires"};
  }
  if (outcome->state == "expired")
    return error{errc::message_expired, "message " + *id + " expired before " + peer->str() + " acknowledged it"};
  return with_card_flags(to_json(*outcome));
}

result<std::optional<outbound_message>> handler::outbox_record(const std::string& id) {
  // outbox(after, 1) pages from the first ID above `after`: start just below `id` (its predecessor as a number).
  std::string after = id;
  for (auto i = after.size(); i-- > 0;) {
    if (after[i] != '0') {
      after[i] = after[i] == 'a' ? '9' : static_cast<char>(after[i] - 1);
      break;
    }
    after[i] = 'f';
  }
  if (id.find_first_not_of('0') == std::string::npos) after.clear();  // 000...0: the first possible ID
  auto page = node_.outbox(after, 1);
  if (!page) return page.err();
  if (page->empty() || page->front().message_id != id) return std::optional<outbound_message>();
  return std::optional<outbound_message>(std::move(page->front()));
}

result<nlohmann::json> handler::inbox_list(const nlohmann::json& req) {
  auto unread = arg_bool(req, "inbox.list", "unread", false);
  auto limit = arg_uint(req, "inbox.list", "limit", 0);
  auto since = arg_uint(req, "inbox.list", "since", 0);
  if (!unread) return unread.err();
  if (!limit) return limit.err();
  if (!since) return since.err();
  // One page: at most list_page_messages read from the store, and a response line well under what
  // clients read (max_line_bytes). A page cut short says "more": true and where the next one starts.
  // Without --unread the store can stop at the limit; with it, read ones are skipped first.
  const std::size_t fetch = *limit && !*unread ? std::min<std::uint64_t>(*limit, list_page_messages) : list_page_messages;
  auto all = node_.watch(*since, fetch + 1, std::chrono::milliseconds(0));  // one more: is there a next page?
  if (!all) return all.err();
  bool more = all->size() > fetch;
  if (more) all->pop_back();
  nlohmann::json list = nlohmann::json::array();
  const auto names = aliases();
  std::size_t bytes = 0;
  std::uint64_t next = *since;  // the last message this page dealt with (listed or skipped as read)
  for (auto& m : *all) {
    if (*limit && list.size() >= *limit) break;
    if (!(*unread && m.read)) {
      auto j = to_json(m, names);
      const auto size = detail::json_text(j).size();
      if (!list.empty() && bytes + size > list_page_bytes) {
        more = true;
        break;
      }
      bytes += size;
      list.push_back(std::move(j));
    }
    next = m.sequence;
  }
  if (*limit && list.size() >= *limit) more = false;
  nlohmann::json out{{"messages", std::move(list)}, {"more", more}};
  if (more) out["next_since"] = next;
  return out;
}

// Our card as the node signed it (at start, or its latest renewal); with any argument, one signed now with those
// fields (the others: the listen addresses, no capabilities, the config's crypto.card_validity_days).
result<nlohmann::json> handler::card(const nlohmann::json& req) {
  auto addresses = arg_strings(req, "card", "addresses");
  auto capabilities = arg_strings(req, "card", "capabilities");
  auto days = arg_uint(req, "card", "validity_days", node_.config().crypto.card_validity_days);
  if (!addresses) return addresses.err();
  if (!capabilities) return capabilities.err();
  if (!days) return days.err();
  if (*days < 1 || *days > 3650) return error{errc::invalid_argument, "card: 'validity_days' must be 1 to 3650"};
  if (!*addresses && !*capabilities && !given(req, "validity_days"))
    return nlohmann::json{{"card", node_.card()}, {"peer_id", node_.id().str()}};
  auto text = node_.sign_card(addresses->value_or(node_.listen_addresses()),
                              capabilities->value_or(std::vector<std::string>{}),
                              std::chrono::hours(24) * static_cast<std::int64_t>(*days));
  if (!text) return error{text.err().code(), "card: " + text.err().message()};
  return nlohmann::json{{"card", *text}, {"peer_id", node_.id().str()}};
}

alias_map handler::aliases() {
  auto all = node_.contacts();
  return all ? aliases_of(*all) : alias_map{};
}

result<std::uint64_t> handler::watch_start(const nlohmann::json& req) {
  if (auto known = check_arguments(req, "watch"); !known) return known.err();
  return arg_uint(req, "watch", "since", 0);
}

result<nlohmann::json> handler::dispatch(const std::string& cmd, const nlohmann::json& req, const gone_fn& gone) {
  if (cmd == "hello") return nlohmann::json{{"protocol", protocol_version}, {"peer_id", node_.id().str()}};
  if (cmd == "status") {
    auto st = node_.status();
    if (!st) return st.err();
    auto j = to_json(*st);
    j["name"] = node_.config().name;
    j["data_dir"] = data_dir_.string();
    j["card"] = node_.card();
    return j;
  }
  if (cmd == "doctor") {
    auto who = arg_string(req, "doctor", "peer", false);
    if (!who) return who.err();
    std::optional<peer_id> peer;
    if (!who->empty()) {
      auto id = resolve_peer(*who);
      if (!id) return id.err();
      peer = *id;
    }
    auto j = doctor_report(node_, peer);
    if (!j) return j.err();
    (*j)["name"] = node_.config().name;  // and the rest of what status says (docs/api/control.md: "everything status has")
    (*j)["data_dir"] = data_dir_.string();
    (*j)["card"] = node_.card();
    return *j;
  }
  if (cmd == "card") return card(req);
  if (cmd == "card.renew") {
    auto rotate = arg_bool(req, "card.renew", "rotate", false);
    if (!rotate) return rotate.err();
    auto r = node_.renew_card(*rotate);
    if (!r) return error{r.err().code(), "card.renew: " + r.err().message()};
    return nlohmann::json{{"card", r->card}, {"peer_id", node_.id().str()}, {"signed_prekey_rotated", r->signed_prekey_rotated}};
  }
  if (cmd == "send") return send(req, gone);
  if (cmd == "inbox.list") return inbox_list(req);
  if (cmd == "inbox.read" || cmd == "inbox.ack" || cmd == "inbox.delete") {
    if (!given(req, "seq")) return error{errc::invalid_argument, cmd + ": missing 'seq'"};
    auto seq = arg_uint(req, cmd.c_str(), "seq", 0);
    if (!seq) return seq.err();
    if (cmd == "inbox.delete") {
      if (auto r = node_.remove(*seq); !r) return r.err();
      return nlohmann::json{{"seq", *seq}, {"deleted", true}};
    }
    auto m = node_.read(*seq);
    if (!m) return m.err();
    if (cmd == "inbox.ack") return nlohmann::json{{"seq", *seq}, {"acked", true}};
    return to_json(*m, aliases());
  }
  if (cmd == "receive") {
    auto timeout = arg_wait(req, "receive", 0);
    if (!timeout) return timeout.err();
    auto m = interruptible(*timeout, gone, [&](std::chrono::milliseconds slice) { return node_.receive(slice); });
    if (!m) return m.err();
    return to_json(*m, aliases());
  }
  if (cmd == "outbox.list") {
    // Pages of at most list_page_messages records in message ID order (a large outbox made one line too long).
    auto after = arg_message_id(req, "outbox.list", "after");  // a cursor that is no ID listed nothing, silently
    if (!after) return after.err();
    auto list = node_.outbox(*after, list_page_messages + 1);  // one more: is there a next page?
    if (!list) return list.err();
    // And at most list_page_bytes of records (each may carry a last_error of up to 4 KiB, more once escaped).
    nlohmann::json out = nlohmann::json::array();
    bool more = list->size() > list_page_messages;
    if (more) list->pop_back();
    std::size_t bytes = 0;
    std::string last;
    for (auto& m : *list) {
      auto j = to_json(m);
      bytes += detail::json_text(j).size() + 1;  // as it is written: a relay's error text need not be UTF-8
      if (!out.empty() && bytes > list_page_bytes) {
        more = true;
        break;
      }
      last = m.message_id;
      out.push_back(std::move(j));
    }
    nlohmann::json page{{"messages", std::move(out)}, {"more", more}};
    if (more) page["next_after"] = last;
    return page;
  }
  if (cmd.rfind("contacts.", 0) == 0) return contacts_command(node_contact_ops(node_), cmd, req);
  return error{errc::invalid_argument, "unknown command '" + cmd + "' (see docs/api/control.md)"};
}

} // namespace aqua::control
