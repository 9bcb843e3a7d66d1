#pragma once
// Private: the control API server — a unix stream socket in the data dir
// (mode 0600, only our uid may connect), JSON lines in both directions
// (docs/api/control.md). One thread accepts; each client gets a thread (at
// most max_clients), so a slow `send --wait` never blocks other clients.

#include <atomic>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "aqua/node.hpp"
#include "control/control_handler.hpp"

namespace aqua::control {

inline constexpr const char* socket_name = "control.sock";
inline constexpr std::size_t max_line_bytes = 4u << 20;  // a request line: a 1 MiB payload as hex, with room to spare
inline constexpr std::size_t watch_batch_bytes = 256u << 10;  // payload bytes a watch stream fetches at a time
// A response line: at most one message object more than a page holds, and a message object carries its payload as
// hex (2 characters a byte) and, when it is text, as a JSON string (at most 2 characters a byte, escapes included):
// 4 × the largest payload a node opens (crypto.max_frame_bytes, at most 64 MiB: config_loader.cpp) plus its other
// fields. Clients must read lines this long; with the default 1 MiB frames they stay under ~4.1 MiB.
inline constexpr std::size_t max_response_line_bytes = 4 * (std::size_t{64} << 20) + (std::size_t{64} << 10);
static_assert(list_page_bytes <= max_line_bytes / 2, "an inbox.list page must fit a line with room to spare");

struct server_options {
  std::size_t max_clients = 64;
  // With max_clients connected, a new client takes the place of the one idle
  // the longest (no request being answered, not watching) for at least this long.
  std::int64_t evict_idle_after_ms = 1000;
};

class server {
 public:
  // Binds <data_dir>/control.sock. A live socket there means another daemon
  // (errc::address_in_use); a stale one (nobody listening) is replaced; any
  // other file there is left alone (errc::address_in_use).
  static result<std::unique_ptr<server>> start(node& n, const std::filesystem::path& data_dir, server_options o = {});
  ~server();
  // Stops accepting, disconnects clients, joins every thread, removes the socket.
  void stop();
  const std::filesystem::path& path() const { return path_; }

 private:
  server(node& n, std::filesystem::path data_dir) : handler_(n, data_dir, &stopping_) {}
  void accept_loop();
  struct client;
  void serve_client(client& c);
  bool evict_idlest();  // with clients_mutex_ held
  void stream_watch(int fd, std::uint64_t after, const nlohmann::json& id);
  void give_back_unsent(const nlohmann::json& req, const nlohmann::json& response);
  bool all_clients_done();

  handler handler_;
  std::filesystem::path path_;
  server_options opts_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex clients_mutex_;
  struct client {
    enum : int { idle, busy, evicted };
    int fd;
    std::thread thread;
    std::atomic<bool> done{false};
    std::atomic<int> state{idle};  // busy while it has requests in hand or watches; evicted: ours to close
    std::atomic<std::int64_t> idle_since_ms{0};
  };
  std::list<client> clients_;
};

// Splits a byte stream into lines of at most max_line_bytes (sans-I/O).
class line_splitter {
 public:
  explicit line_splitter(std::size_t max) : max_(max) {}
  // Appends bytes; false when a line grew past the bound (the stream is then unusable).
  bool feed(const char* data, std::size_t n);
  // Next complete line without its '\n' (a trailing '\r' is dropped too).
  bool next(std::string& line);

 private:
  std::size_t max_;
  std::string buf_;
  std::size_t scanned_ = 0;
};

} // namespace aqua::control
