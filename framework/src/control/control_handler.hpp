#pragma once
// Private: the control API's request handler (docs/api/control.md). A plain
// class over a running node: one JSON request in, one JSON response out.
// Streams (watch) are driven by the server, which asks for batches.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <mutex>

#include "aqua/node.hpp"

namespace aqua::control {

inline constexpr int protocol_version = 1;

class handler {
 public:
  handler(node& n, std::filesystem::path data_dir) : node_(n), data_dir_(std::move(data_dir)) {}

  // {"id":..,"cmd":"..",...} -> {"id":..,"ok":true,"result":{..}} or
  // {"id":..,"ok":false,"error":{"code":..,"message":..}}. Never throws.
  nlohmann::json handle(const nlohmann::json& request);

  // For "watch": the sequence number to start after, or an error response.
  result<std::uint64_t> watch_start(const nlohmann::json& request);

  node& target() { return node_; }

 private:
  result<nlohmann::json> dispatch(const std::string& cmd, const nlohmann::json& req);
  result<nlohmann::json> send(const nlohmann::json& req);
  result<nlohmann::json> inbox_list(const nlohmann::json& req);
  result<nlohmann::json> contacts(const std::string& cmd, const nlohmann::json& req);
  result<peer_id> resolve_peer(const std::string& who);

  node& node_;
  std::filesystem::path data_dir_;
  std::mutex contacts_mutex_;  // one contacts.json writer at a time inside the daemon
};

// Typed argument access with precise errors ("send: 'ttl_s' must be a number").
result<std::string> arg_string(const nlohmann::json& req, const char* cmd, const char* key, bool required);
result<std::uint64_t> arg_uint(const nlohmann::json& req, const char* cmd, const char* key, std::uint64_t fallback);
result<bool> arg_bool(const nlohmann::json& req, const char* cmd, const char* key, bool fallback);

} // namespace aqua::control
