// One hosted agent, what its code calls (agent_context: settings, tell,
// request, notes) and the frames the runtime sends for it; the actor, the
// pump and the inbox bookkeeping are in agent_runtime.cpp.

#include "agent/agent_runtime.hpp"

namespace aqua::agents {

result<void> runtime::send_frame(const peer_id& to, const frame& f, std::uint64_t ttl_ms) {
  auto payload = encode(f);
  if (!payload) return payload.err();
  send_options o;
  o.ttl_ms = ttl_ms;
  o.topic = agent_topic;
  if (auto r = node_->send(to, std::move(*payload), o); !r) return r.err();
  return ok();
}

std::string runtime::setting(const std::string& key, const std::string& fallback) const {
  auto it = cfg_.settings.find(key);
  return it == cfg_.settings.end() ? fallback : it->second;
}

std::filesystem::path runtime::path_setting(const std::string& key, const std::string& fallback) const {
  auto v = setting(key, fallback);
  if (v.empty()) return {};
  std::filesystem::path p(v);
  return p.is_absolute() ? p : (config_dir_ / p).lexically_normal();
}

result<peer_id> runtime::resolve(const std::string& who) {
  if (auto id = shared_.lookup(who)) return *id;
  if (auto id = peer_id::parse(who)) return *id;
  return error{errc::not_found, "'" + who + "' is neither a known agent nor a peer ID"};
}

result<void> runtime::tell(const std::string& to, agent_payload payload) {
  auto id = resolve(to);
  if (!id) return id.err();
  send_options o;
  o.topic = agent_topic;
  auto bytes = encode(frame{frame_kind::tell, {}, payload.type, cfg_.name, 0, std::move(payload.body), {}, {}});
  if (!bytes) return bytes.err();
  auto r = node_->send(*id, std::move(*bytes), o);
  if (!r) return r.err();
  return ok();
}

result<agent_reply> runtime::request(const std::string& to, agent_payload payload, std::chrono::milliseconds deadline) {
  return std::move(requester_.call({agent_call{to, std::move(payload)}}, deadline).front());
}

std::vector<result<agent_reply>> runtime::request_all(const std::vector<agent_call>& calls,
                                                      std::chrono::milliseconds deadline) {
  return requester_.call(calls, deadline);
}

void runtime::note(const std::string& text) {
  shared_.emit({0, 0, "note", cfg_.name, {}, node_->id(), {}, {}, {}, {}, 0, 0, text});
}

} // namespace aqua::agents
