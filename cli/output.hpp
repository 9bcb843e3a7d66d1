#pragma once
// CLI output helpers: human text or --json, and the documented exit codes.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "aqua/error.hpp"
#include "identity/keypair.hpp"
#include "core/terminal_text.hpp"

namespace aqua::cli {

// Exit codes (documented in README and `aqua --help`).
enum exit_code : int {
  exit_ok = 0,
  exit_failure = 1,      // operation failed (I/O, network, plugin, ...)
  exit_usage = 2,        // bad command line
  exit_config = 3,       // invalid config file
  exit_identity = 4,     // missing, malformed or insecure key / data dir
  exit_no_daemon = 5,    // the command needs a running daemon ('aqua serve')
  exit_timeout = 6,      // waited as long as asked (send --wait, receive) without an answer
};

int exit_code_for(const error& e);

// Prints "aqua: error: <code>: <message>" to stderr, or a JSON object
// {"error": {"code": ..., "message": ...}} to stdout with --json; `extra`'s
// fields (an object) join the error object, e.g. the message_id of a send
// that may be queued although the command failed.
int report(const error& e, bool json, const nlohmann::json& extra = nullptr);
// "run 'aqua --dir DIR init' first": what to do in a data dir without an identity.
std::string init_hint(const std::filesystem::path& dir);
// errc::no_identity (exit 4) for a data dir without an identity: "no identity in 'DIR' (<detail>); <init_hint>".
error no_identity_in(const std::filesystem::path& dir, const std::string& detail = {});
// The key file the node of data dir `dir` serves with: its config's components.identity.key_file when `dir` has
// a config (an error if that does not load), else `dir`/identity.key.
result<std::filesystem::path> identity_key_path(const std::filesystem::path& dir);
// The identity key of data dir `dir` (identity_key_path); a missing key is no_identity_in(dir) (its hint names
// --dir), other key file problems as read_key_file reports them.
result<keypair> read_identity(const std::filesystem::path& dir);
// A node's store failure (node::store_failure) as the error a command that
// ran the node ends with: "<what> stopped" and that a restart loses nothing.
error stopped_by_store_failure(const std::string& what, const error& failure);

void print_json(const nlohmann::json& j);
// "2026-11-27 17:45:02Z" for a Unix time in milliseconds.
std::string utc_time(std::int64_t ms);
// terminal_text (core/terminal_text.hpp): what a peer chose, made safe to print.

} // namespace aqua::cli
