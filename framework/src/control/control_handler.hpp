#pragma once
// Private: the control API's request handler (docs/api/control.md). A plain
// class over a running node: one JSON request in, one JSON response out.
// Streams (watch) are driven by the server, which asks for batches.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>

#include "aqua/node.hpp"
#include "control/control_json.hpp"

namespace aqua::control {

inline constexpr int protocol_version = 1;
// inbox.list pages: messages read from the store per request, and the bytes
// of message objects per response (well under max_line_bytes, which clients
// may use as their bound for a line).
inline constexpr std::size_t list_page_messages = 1000;
inline constexpr std::size_t list_page_bytes = 2u << 20;

class handler {
 public:
  // `stopping` (may be null) ends the waits of receive and send+wait early,
  // with not_running, once it turns true: a daemon stops without waiting out
  // a client's timeout.
  handler(node& n, std::filesystem::path data_dir, const std::atomic<bool>* stopping = nullptr)
      : node_(n), data_dir_(std::move(data_dir)), stopping_(stopping) {}

  // {"id":..,"cmd":"..",...} -> {"id":..,"ok":true,"result":{..}} or
  // {"id":..,"ok":false,"error":{"code":..,"message":..}}. Never throws.
  // `gone` (may be empty) says whether the client hung up: receive and
  // send+wait stop waiting for it then (connection_closed), so a dead
  // client's receive never takes a message.
  using gone_fn = std::function<bool()>;
  nlohmann::json handle(const nlohmann::json& request, const gone_fn& gone = {});

  // For "watch": the sequence number to start after, or an error response.
  result<std::uint64_t> watch_start(const nlohmann::json& request);

  node& target() { return node_; }
  // The contacts' aliases now (empty if they cannot be read), for "sender_alias".
  alias_map aliases();

 private:
  result<nlohmann::json> dispatch(const std::string& cmd, const nlohmann::json& req, const gone_fn& gone);
  result<nlohmann::json> send(const nlohmann::json& req, const gone_fn& gone);
  result<nlohmann::json> inbox_list(const nlohmann::json& req);
  result<nlohmann::json> card(const nlohmann::json& req);
  result<peer_id> resolve_peer(const std::string& who);
  // The outbox record of message `id` (32 lower-case hex digits), nullopt when there is none.
  result<std::optional<outbound_message>> outbox_record(const std::string& id);
  // `wait(slice)` in slices of at most wait_slice until it gives something
  // other than a timeout, `total` has passed, the daemon is stopping or the
  // client is gone.
  template <class Wait>
  auto interruptible(std::chrono::milliseconds total, const gone_fn& gone, Wait wait) -> decltype(wait(total));

  node& node_;
  std::filesystem::path data_dir_;
  const std::atomic<bool>* stopping_;
};

inline constexpr std::chrono::milliseconds wait_slice{200};

template <class Wait>
auto handler::interruptible(std::chrono::milliseconds total, const gone_fn& gone, Wait wait) -> decltype(wait(total)) {
  const auto deadline = std::chrono::steady_clock::now() + total;
  for (;;) {
    // Stopping first: the server's own shutdown(SHUT_RD) reads as a client that went away.
    if (stopping_ && *stopping_) return error{errc::not_running, "the daemon is stopping"};
    if (gone && gone()) return error{errc::connection_closed, "the client went away"};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto r = wait(std::clamp(left, std::chrono::milliseconds(0), wait_slice));
    if (r || r.err().code() != errc::timeout || left <= wait_slice) return r;
    if (stopping_ && *stopping_) return error{errc::not_running, "the daemon is stopping"};
  }
}

// invalid_argument naming an argument `cmd` does not take (unknown commands pass: dispatch refuses them).
result<void> check_arguments(const nlohmann::json& req, const std::string& cmd);
// Typed argument access with precise errors ("send: 'ttl_s' must be a number").
result<std::string> arg_string(const nlohmann::json& req, const char* cmd, const char* key, bool required);
result<std::uint64_t> arg_uint(const nlohmann::json& req, const char* cmd, const char* key, std::uint64_t fallback);
// A contact as the control API shows it (contacts.* results).
nlohmann::json contact_json(const contact_info& c);

// contacts.* over any contact source: the running node (node_contact_ops),
// or the store itself when no daemon runs (the CLI).
struct contact_ops {
  std::function<result<contact_info>(const std::string& card, const std::string& alias)> add;
  std::function<result<std::vector<contact_info>>()> list;
  std::function<result<contact_info>(const std::string& who)> find;
  std::function<result<contact_info>(const std::string& who, const std::string& trust)> set_trust;
  std::function<result<peer_id>(const std::string& who)> remove;
  // Card directory lookup (node::lookup_contact); empty where there is no node (the CLI over the store).
  std::function<result<contact_info>(const peer_id& peer, const std::string& alias, std::chrono::milliseconds)> lookup;
};
contact_ops node_contact_ops(node& n);
result<nlohmann::json> contacts_command(const contact_ops& ops, const std::string& cmd, const nlohmann::json& req);
result<bool> arg_bool(const nlohmann::json& req, const char* cmd, const char* key, bool fallback);

} // namespace aqua::control
