#pragma once
// Each command registers itself on the CLI11 app; the callback sets the
// exit code. Keeping commands in their own files keeps main.cpp small.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "aqua/config.hpp"

namespace aqua::cli {

struct global_options {
  std::optional<std::string> dir;  // --dir
  bool json = false;               // --json
  std::string log_level;           // --log-level; empty: warn (aqua serve: the config's node.log_level)
};

// Where the node of --dir lives, from one read of its config.yaml: `dir` is --dir (resolve_data_dir: the config,
// and what hints name), `data` where it keeps its store and control socket (--dir, or the node.data_dir the config
// names), `key_file` the key it serves with. An error if that config does not load: the store could be anywhere.
struct node_paths {
  std::filesystem::path dir, data, key_file;
};
result<node_paths> paths_of(const global_options& g);
// The node config: `config` if given, else <data dir>/config.yaml (as `aqua init` wrote it).
result<node_config> load_node_config(const global_options& g, const std::string& config);

// One subcommand of a family that shares options and a handler: its name,
// one-line help and --help footer (examples of that very command).
struct command_doc {
  const char* name;
  const char* help;
  const char* footer;
};

// A whole number option (sequence numbers, counts): digits only, within
// 64 bits. CLI11 alone took "-1" as 18446744073709551615 and saturated
// 18446744073709551616; these are usage errors (exit 2).
inline const CLI::Validator& whole_number() {
  static const CLI::Validator v(
    [](std::string& s) -> std::string {
      const bool digits = !s.empty() && s.size() <= 20 && s.find_first_not_of("0123456789") == std::string::npos;
      if (digits && (s.size() < 20 || s <= "18446744073709551615")) return {};
      return "'" + s + "' is not a whole number from 0 to 18446744073709551615";
    },
    "");  // the option already shows UINT: a name here made it "UINT:UINT"
  return v;
}

// A value that may not be empty: CLI11 takes `--message-id ""` as given, and an empty ID, TTL, recipient or peer
// silently meant "none" (a retry script whose $ID was unset sent a new message every time).
inline const CLI::Validator& non_empty() {
  static const CLI::Validator v([](std::string& s) -> std::string { return s.empty() ? "must not be empty" : ""; }, "");
  return v;
}

// The first address given twice in `addresses` (a repeated --listen would collide with itself), if any.
inline std::optional<std::string> repeated(const std::vector<std::string>& addresses) {
  for (std::size_t i = 1; i < addresses.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (addresses[i] == addresses[j]) return addresses[i];
  return std::nullopt;
}

void add_identity_commands(CLI::App& app, global_options& g, int& rc);  // init, id
void add_config_commands(CLI::App& app, global_options& g, int& rc);    // config check|path
void add_demo_command(CLI::App& app, global_options& g, int& rc);       // demo
void add_plugin_commands(CLI::App& app, global_options& g, int& rc);    // plugin check
void add_contact_commands(CLI::App& app, global_options& g, int& rc);   // card export, contacts ...
void add_store_commands(CLI::App& app, global_options& g, int& rc);     // store check, store repair
void add_serve_command(CLI::App& app, global_options& g, int& rc);      // serve
void add_inbox_commands(CLI::App& app, global_options& g, int& rc);     // inbox list|read|ack|delete|watch
void add_outbox_commands(CLI::App& app, global_options& g, int& rc);    // outbox list
void add_send_commands(CLI::App& app, global_options& g, int& rc);      // send, status
void add_relay_commands(CLI::App& app, global_options& g, int& rc);     // relay serve

// What `aqua relay serve` changes in the config before running the daemon.
struct daemon_overrides {
  bool relay = false;                     // force components.relay.serve on
  std::vector<std::string> relay_listen;  // replaces components.relay.listen when not empty
};
// Runs the daemon (aqua serve) until SIGINT/SIGTERM; the exit code.
int run_daemon(const global_options& g, const std::string& config, const daemon_overrides& o);
void add_doctor_commands(CLI::App& app, global_options& g, int& rc);    // doctor

// "500ms", "30s", "5m", "2h", "7d" (a bare number is seconds) -> milliseconds.
result<std::uint64_t> parse_duration_ms(const std::string& text, const std::string& what);

} // namespace aqua::cli
