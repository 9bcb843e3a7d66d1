#pragma once
// Agents (agent ABI version `agent_abi_version`).
//
// An agent is a piece of application logic with its own identity: its own
// Ed25519 key pair and peer ID, its own end-to-end encryption state and
// durable inbox/outbox. The agent host runs each agent as a CAF actor (one
// handler at a time, on the agent's own thread, so a handler may block in
// request()) on top of its own lightweight aqua node. Agents talk with
//   * tell():    a one-way message;
//   * request(): a typed request that yields the reply, the peer's error, or
//                errc::timeout once the deadline passes (a late reply is
//                dropped and counted).
// The call is the same whether the peer is hosted in the same process (the
// loopback transport, no sockets), in another daemon on the LAN (zmq) or
// behind a relay: every agent message is sealed by the sender's E2EE engine
// and opened by the recipient's, on every path (docs/agents.md).
//
// Agent plugins are shared libraries libaqua_agent_<name>.so:
//
//   #include <aqua/agent.hpp>
//   aqua::result<std::unique_ptr<aqua::agent>> make(const aqua::agent_config&);
//   AQUA_AGENT_PLUGIN(my_agent, make)
//
// The macro exports aqua_agent_abi_version (must equal agent_abi_version),
// aqua_agent_plugin_name (must equal the plugin name) and aqua_agent_factory.
// No CAF type appears here.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>

#include "aqua/bytes.hpp"
#include "aqua/config.hpp"
#include "aqua/error.hpp"
#include "aqua/identity.hpp"

namespace aqua {

class node;

// Bump whenever anything in this header changes layout or meaning.
inline constexpr std::uint32_t agent_abi_version = 1;

// A typed body: `type` names what `body` holds (e.g. "news.query").
struct agent_payload {
  std::string type;
  bytes body;

  static agent_payload text(std::string type, std::string_view body) {
    return {std::move(type), bytes(body.begin(), body.end())};
  }
  std::string text() const { return {body.begin(), body.end()}; }
};

// What reaches an agent's handler.
struct agent_message {
  peer_id sender;            // authenticated by the end-to-end session
  std::string sender_name;   // the name the sender's host gave it (for display; `sender` is what counts)
  agent_payload payload;
  std::string transport;     // the transport it arrived on (loopback, zmq, ...)
  std::string trust;         // verified | unverified | unknown (only with crypto.unknown_senders: accept)
  std::string correlation;   // request id (32 hex digits); empty for tell()
  std::int64_t deadline_unix_ms = 0;  // the requester's deadline; 0 for tell()
};

// What request() yields.
struct agent_reply {
  peer_id from;
  agent_payload payload;
  std::string transport;     // the transport the reply arrived on
  double round_trip_ms = 0;  // request sent -> reply opened
};

struct agent_call {
  std::string to;  // an agent name (co-hosted, the daemon's node.name, the agent directory's) or a peer ID
  agent_payload payload;
};

// One line of the host's trace: who asked whom, over which path, how long.
struct agent_event {
  std::int64_t unix_ms = 0;
  double elapsed_ms = 0;       // since the host started
  std::string kind;            // request | reply | error | timeout | tell | note | started
  std::string from, to;        // agent names (or peer IDs when the name is unknown)
  peer_id from_id, to_id;
  std::string type;            // payload type
  std::string correlation;
  std::string transport;       // on receipt; empty on send
  std::size_t body_bytes = 0;
  double round_trip_ms = 0;    // reply / timeout
  std::string text;            // note text, error message
};

// The host's side of one agent, handed to every callback. Thread-safe.
class agent_context {
 public:
  virtual ~agent_context() = default;
  virtual const std::string& name() const = 0;
  virtual const peer_id& id() const = 0;
  virtual const agent_config& config() const = 0;
  // <daemon data dir>/agents/<name>: the agent's key, store, contacts; 0700.
  virtual const std::filesystem::path& data_dir() const = 0;
  // A setting (or `fallback`), and a path setting resolved against the
  // directory of the config file that declared the agent.
  virtual std::string setting(const std::string& key, const std::string& fallback = {}) const = 0;
  virtual std::filesystem::path path_setting(const std::string& key, const std::string& fallback = {}) const = 0;
  // An agent name (co-hosted, the daemon's, the directory's) or peer ID -> peer ID (errc::not_found).
  virtual result<peer_id> resolve(const std::string& who) = 0;
  virtual result<void> tell(const std::string& to, agent_payload payload) = 0;
  // Blocks until the reply arrives, the peer answers with an error (its
  // errc), or `deadline` passes (errc::timeout). Send failures come back at once.
  virtual result<agent_reply> request(const std::string& to, agent_payload payload,
                                      std::chrono::milliseconds deadline) = 0;
  // Several requests in flight at once, one common deadline; results in order.
  virtual std::vector<result<agent_reply>> request_all(const std::vector<agent_call>& calls,
                                                       std::chrono::milliseconds deadline) = 0;
  // A free-form line in the host's trace (the demo prints it).
  virtual void note(const std::string& text) = 0;
};

// Settings come from the operator's YAML; these check them with errors that
// name the agent and the key. Header-only: not part of the plugin ABI.
//
// In a factory: a setting the agent does not know is an error (a typo would
// otherwise run silently with the default).
inline result<void> check_setting_keys(const agent_config& cfg, std::initializer_list<std::string_view> known) {
  for (auto& kv : cfg.settings) {
    if (std::find(known.begin(), known.end(), kv.first) != known.end()) continue;
    std::string names;
    for (auto k : known) names += (names.empty() ? "" : ", ") + std::string(k);
    return error{errc::config_unknown_key, "agent " + cfg.name + ": unknown setting '" + kv.first + "' (" + cfg.plugin +
                                               " knows " + (names.empty() ? std::string("none") : names) + ")"};
  }
  return ok();
}

// An integer setting in [min, max] (or `fallback` when absent).
inline result<std::int64_t> int_setting(const agent_config& cfg, const std::string& key, std::int64_t fallback,
                                        std::int64_t min = 0, std::int64_t max = INT64_MAX) {
  auto it = cfg.settings.find(key);
  if (it == cfg.settings.end() || it->second.empty()) return fallback;
  const std::string& text = it->second;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max)
    return error{errc::config_bad_value, "agent " + cfg.name + ": setting '" + key + "' must be an integer from " +
                                             std::to_string(min) + " to " + std::to_string(max) + ", got '" + text + "'"};
  return v;
}

// A boolean setting: "true" or "false" (or `fallback` when absent).
inline result<bool> bool_setting(const agent_config& cfg, const std::string& key, bool fallback) {
  auto it = cfg.settings.find(key);
  if (it == cfg.settings.end() || it->second.empty()) return fallback;
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  return error{errc::config_bad_value,
               "agent " + cfg.name + ": setting '" + key + "' must be true or false, got '" + it->second + "'"};
}

inline result<std::int64_t> int_setting(const agent_context& ctx, const std::string& key, std::int64_t fallback,
                                        std::int64_t min = 0, std::int64_t max = INT64_MAX) {
  return int_setting(ctx.config(), key, fallback, min, max);
}

class agent {
 public:
  virtual ~agent() = default;
  // Once every agent of the host runs and the co-hosted agents know each
  // other; runs on the agent's thread, may send and request.
  virtual result<void> start(agent_context& ctx) {
    (void) ctx;
    return ok();
  }
  // A request: return the reply, or an error the requester receives as its errc.
  virtual result<agent_payload> on_request(agent_context& ctx, const agent_message& msg) = 0;
  // A tell(), or a plain message from a non-agent peer (e.g. `aqua send`).
  virtual void on_message(agent_context& ctx, const agent_message& msg) {
    (void) ctx;
    (void) msg;
  }
};

// Signature of the factory every agent plugin exports.
using agent_factory_fn = result<std::unique_ptr<agent>>(const agent_config&);

// Typed requests: Req has `static constexpr std::string_view type`, `bytes
// encode() const` and `using reply = R`; R has `static constexpr
// std::string_view type` and `static result<R> decode(bytes_view)`. A reply
// of another type is errc::bad_frame.
template <class Req>
result<typename Req::reply> ask(agent_context& ctx, const std::string& to, const Req& req,
                                std::chrono::milliseconds deadline) {
  using R = typename Req::reply;
  auto r = ctx.request(to, agent_payload{std::string(Req::type), req.encode()}, deadline);
  if (!r) return r.err();
  if (r->payload.type != R::type)
    return error{errc::bad_frame, "expected a '" + std::string(R::type) + "' reply, got '" + r->payload.type + "'"};
  return R::decode(r->payload.body);
}

// Runs agents in this process. Each agent becomes a lightweight node
// (identity under <data_dir>/agents/<name>/, created 0600 on first start)
// listening on /memory/<its peer ID> plus its `listen` addresses; co-hosted
// agents get routes to each other and each other's cards (trust: verified,
// vouched for by the config), and so does `daemon` if given.
class agent_host {
 public:
  struct options {
    node* daemon = nullptr;  // the daemon's own node (e.g. for agents speaking through the control API)
    std::function<void(const agent_event&)> on_event;  // the trace; called from agent threads, serialised
    // Polled while start waits for the agent directory's cards (up to wait_s): true ends the wait with
    // errc::not_running (e.g. the daemon got SIGTERM meanwhile).
    std::function<bool()> cancelled;
  };
  // Loads every plugin first: a missing or bad plugin fails before any agent starts.
  static result<std::unique_ptr<agent_host>> start(const node_config& cfg, options opts);
  // The first half of start(): finds and loads every agent plugin of `cfg` and makes its agent with the factory
  // (which checks the agent's settings), in cfg.agents order. Errors name the config file, line and key path.
  static result<std::vector<std::shared_ptr<agent>>> load(const node_config& cfg);
  // The same with agents made by the caller (tests, embedding); `made` pairs
  // each config entry with its agent, in cfg.agents order.
  static result<std::unique_ptr<agent_host>> start_with(const node_config& cfg,
                                                        std::vector<std::shared_ptr<agent>> made, options opts);
  ~agent_host();
  agent_host(const agent_host&) = delete;
  agent_host& operator=(const agent_host&) = delete;

  struct agent_info {
    std::string name, plugin;
    peer_id id;
    std::vector<std::string> listen;
    std::string card;
  };
  std::vector<agent_info> agents() const;
  // Counters over every agent: requests served, late replies dropped, timeouts.
  struct stats {
    std::uint64_t requests_served = 0, replies_received = 0, late_replies = 0, timeouts = 0, rejected = 0;
  };
  stats counters() const;
  // A request from agent `from` (hosted here), as if its code had made it.
  result<agent_reply> request_as(const std::string& from, const std::string& to, agent_payload payload,
                                 std::chrono::milliseconds deadline);
  // The first failed store write of any agent's node (node::store_failure),
  // its message naming the agent; nullopt while every store is healthy.
  // Such a node takes no more writes, so its agent can neither ask nor
  // answer: `aqua serve` checks this beside its own node's and exits.
  std::optional<error> store_failure() const;
  void stop();  // idempotent; also run by the destructor

 private:
  struct impl;
  explicit agent_host(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// Finds, loads and checks agent plugin `plugin` on `search_dirs` (the
// config's node.plugin_path; then $AQUA_PLUGIN_PATH and the install dir)
// and calls its factory. Errors: plugin_not_found, plugin_load_failed,
// plugin_missing_symbol, plugin_abi_mismatch, plugin_name_mismatch.
result<std::shared_ptr<agent>> load_agent_plugin(const std::vector<std::filesystem::path>& search_dirs,
                                                 const agent_config& cfg);

} // namespace aqua

#define AQUA_AGENT_PLUGIN(NAME, FACTORY)                                                            \
  extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t aqua_agent_abi_version = ::aqua::agent_abi_version; \
  extern "C" BOOST_SYMBOL_EXPORT const char* const aqua_agent_plugin_name = #NAME;                  \
  BOOST_DLL_ALIAS(FACTORY, aqua_agent_factory)
