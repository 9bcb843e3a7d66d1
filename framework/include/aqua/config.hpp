#pragma once
// A node described by one YAML file (see configs/*.yaml for commented
// examples). load_config() validates everything before anything starts:
// unknown keys, wrong types, missing fields, bad values and bad addresses
// are reported as "<file>:<line>:<column>: <key.path>: <what>".

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aqua/error.hpp"
#include "aqua/identity.hpp"

namespace aqua {

struct route_config {
  peer_id peer;
  std::string address;  // multiaddr the routing actor dials for `peer`
};

struct transport_config {
  std::string plugin;                           // registry name, e.g. "loopback"
  std::string name;                             // instance name; defaults to plugin
  std::vector<std::string> listen;              // multiaddrs
  std::map<std::string, std::string> settings;  // plugin-specific scalars
};

struct identity_config {
  std::filesystem::path key_file;  // absolute after loading
};

struct crypto_config {
  std::uint32_t max_frame_bytes = 1u << 20;  // largest payload sealed or opened
  std::string unknown_senders = "quarantine";  // reject | quarantine (blocked senders are always rejected)
  std::uint32_t default_ttl_s = 86400;       // envelope expiry when the sender gives none
  std::uint32_t card_validity_days = 30;     // of the card the node signs at start
};

struct routing_config {
  std::vector<std::string> transports;  // names of transports routing may use
  std::vector<route_config> routes;
};

// `components.relay` (docs/relay.md): this node as a circuit relay v2 server
// (HOP/STOP, libp2p wire-compatible) with a network mailbox
// (/aqua/mailbox/1.0.0) holding sealed envelopes for offline peers.
struct relay_config {
  bool serve = false;
  std::uint32_t max_forward_frames = 1024;  // aqua envelopes for other peers forwarded in flight
  std::vector<std::string> listen;          // /ip4/A/tcp/P the relay server binds (serve: true needs one)
  std::vector<std::string> announce;        // public addresses to put in vouchers/reservations (default: listen)
  // HOP limits (defaults: go-libp2p relay.DefaultResources, p2p/hop_policy.hpp)
  std::uint32_t max_connections = 1024;       // TCP + relayed connections the server keeps
  std::uint32_t max_connections_per_ip = 32;  // TCP connections from one remote IP address
  std::uint32_t new_connections_per_ip_per_s = 64;  // new TCP connections a second from one address; 0 = no limit
  std::uint32_t max_reservations = 128;
  std::uint32_t max_reservations_per_ip = 8;
  std::uint32_t max_circuits_per_peer = 16;
  std::uint32_t reservation_ttl_s = 3600;
  std::uint32_t circuit_duration_s = 120;     // 0 = unlimited
  std::uint64_t circuit_data_bytes = 131072;  // per direction; 0 = unlimited
  std::uint32_t max_connects_per_minute = 32; // per source peer; 0 = unlimited
  // keepalive: the server pings each connection this often (0 = never) and closes one from which nothing arrived
  // for ping_timeout_s (0 = never; more than ping_interval_s)
  std::uint32_t ping_interval_s = 15;
  std::uint32_t ping_timeout_s = 45;
  // network mailbox (docs/protocol/mailbox.md)
  bool mailbox = true;                                 // serve /aqua/mailbox/1.0.0 when serve: true
  std::uint32_t mailbox_max_messages_per_peer = 10000;
  std::uint64_t mailbox_max_bytes_per_peer = 64ull << 20;
  std::uint64_t mailbox_max_bytes_total = 1ull << 30;
  std::uint32_t mailbox_max_ttl_s = 7 * 86400;         // deposits asking longer are capped
  // bytes of started, not yet whole mailbox messages the relay buffers (per remote peer, in all), and how
  // long a started message may take (p2p/mailbox_service.hpp)
  std::uint64_t mailbox_max_incomplete_bytes_per_peer = 16ull << 20;
  std::uint64_t mailbox_max_incomplete_bytes_total = 128ull << 20;
  std::uint32_t mailbox_incomplete_timeout_s = 30;
  // a deposit that would leave less than this free on the filesystem of the relay's store is refused
  // (QUOTA_EXCEEDED) instead of filling the disk, which would stop the store (docs/relay.md)
  std::uint64_t mailbox_min_free_bytes = 256ull << 20;
};

struct mailbox_config {
  std::uint32_t send_window = 256;          // unacknowledged messages in flight per recipient
  std::uint32_t dedup_max_ids = 1000000;    // message ids remembered for duplicate detection
  std::uint32_t dedup_max_age_s = 604800;   // ... and for how long (7 days)
  // Handled messages each agent's inbox keeps (docs/agents.md): 0 deletes a
  // message once its handler has finished; N keeps the newest N handled.
  std::uint32_t agent_keep_handled = 0;
};

// An agent the daemon runs (docs/agents.md): `agents: [{plugin, name, listen, settings}]`.
struct agent_config {
  std::string plugin;                           // registry name: libaqua_agent_<plugin>.so
  std::string name;                             // unique per config, [a-z0-9_-]+; defaults to plugin
  std::vector<std::string> listen;              // extra listen addresses (e.g. tcp) for other processes
  std::map<std::string, std::string> settings;  // agent-specific scalars
};

// Where agents of several daemons on one host find each other's cards:
// `agent_directory: {path, require, wait_s}`.
struct agent_directory_config {
  std::filesystem::path path;          // empty: no directory
  std::vector<std::string> require;    // remote agent names to wait for at start (they get routes)
  std::uint32_t wait_s = 30;
};

struct node_config {
  std::filesystem::path source;  // file the config came from ("<string>" when parsed from text)
  std::string name;
  std::filesystem::path data_dir;
  std::string log_level = "info";
  // CAF scheduler threads running the node's actors; 0 = auto (node_worker_threads).
  std::uint32_t worker_threads = 0;
  std::vector<std::filesystem::path> plugin_path;
  identity_config identity;
  crypto_config crypto;
  routing_config routing;
  relay_config relay;
  mailbox_config mailbox;
  std::vector<transport_config> transports;
  std::vector<agent_config> agents;
  agent_directory_config agent_directory;
  // Where the loader read each plugin entry, its `plugin` and each of its
  // settings: "transports[0]", "transports[0].plugin", "agents[1].settings.max"
  // -> "<file>:<line>:<col>". Empty for configs built in code.
  std::map<std::string, std::string> located;
};

result<node_config> load_config(const std::filesystem::path& file);

// The worker threads a node with `configured` (node.worker_threads) runs on a
// machine with `cores` hardware threads: `configured`, or for 0 half the
// cores, between 1 and 4 (the node's transports, store and callers need the rest).
std::uint32_t node_worker_threads(std::uint32_t configured, unsigned cores);

// `base_dir` resolves relative paths (data_dir, plugin_path, key_file);
// `source_name` is used in error messages.
result<node_config> parse_config(std::string_view yaml, const std::string& source_name,
                                 const std::filesystem::path& base_dir);

// A commented default config, as `aqua init` writes it.
// /memory/... addresses go to a loopback transport, the others (tcp) to zmq.
std::string default_config_yaml(const std::string& name, const std::vector<std::string>& listen);

// What is wrong with `name` as a node name, or "" if nothing: 1 to 64 bytes of
// UTF-8 without control characters, no '/' and not "." or ".." (an agent's
// name names its card file in agent_directory.path, docs/agents.md).
std::string node_name_problem(std::string_view name);

// An error a plugin gave for the config entry `entry` ("transports[0]",
// "agents[2]"), prefixed with where the user must look: the setting its
// message names (when exactly one of `settings` is named), else the listen
// address it names as "listen[N]" (a factory refusing an address), the entry's
// `plugin` line for a plugin that cannot be found or loaded, else the entry:
// "<file>:<line>:<col>: agents[2].settings.max: <message>". Unchanged when
// the config was not read from a file.
error located_error(const node_config& cfg, const std::string& entry,
                    const std::map<std::string, std::string>& settings, const error& e);

} // namespace aqua
