#pragma once
// The CLI's side of the control API (docs/api/control.md): JSON lines over
// <data dir>/control.sock of a running `aqua serve`.

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "aqua/error.hpp"

namespace aqua::cli {

struct global_options;

class daemon_client {
 public:
  // errc::not_running (with how to start one) when no daemon serves the data dir. `command_dir`: the --dir the
  // hints name (the dir holding the config, when its node.data_dir is another), default the data dir.
  static result<std::unique_ptr<daemon_client>> connect(const std::filesystem::path& data_dir,
                                                        const std::filesystem::path& command_dir = {});
  ~daemon_client();

  // One request -> its "result" object, or the daemon's error as an aqua::error;
  // errc::timeout when no answer comes within answer_margin (plus the
  // request's own "timeout_ms"): a stopped (SIGSTOP) or wedged daemon.
  result<nlohmann::json> call(nlohmann::json request);
  // A streaming request (watch): `on_event` gets every event line until it
  // returns false or the daemon closes the stream.
  result<void> stream(nlohmann::json request, const std::function<bool(const nlohmann::json&)>& on_event);

 private:
  static constexpr std::chrono::seconds answer_margin{30};
  // The next line; with `wait`, errc::timeout if none has come when it has passed.
  result<nlohmann::json> read_line(std::optional<std::chrono::milliseconds> wait = std::nullopt);
  int fd_ = -1;
  std::string buf_;
  std::size_t scanned_ = 0;  // buf_'s bytes before this hold no newline
  std::uint64_t next_id_ = 1;
};

// The process holding the data dir's store lock (LevelDB's fcntl lock on store/LOCK), if another one does.
std::optional<pid_t> store_holder(const std::filesystem::path& data_dir);

// Data dir of the global options, then connect; not_running if none.
result<std::unique_ptr<daemon_client>> connect_daemon(const global_options& g);
// true when errors mean "no daemon" (so a command may fall back to the store).
bool no_daemon(const error& e);
// The daemon's answer to one request `req`, or nullopt when no daemon runs (the command falls back to the store).
std::optional<result<nlohmann::json>> via_daemon(const global_options& g, const nlohmann::json& req);

} // namespace aqua::cli
