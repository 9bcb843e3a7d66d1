#include "control/control_server.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "control/control_json.hpp"
#include "control/unix_address.hpp"
#include "core/json_text.hpp"

namespace aqua::control {
namespace {

bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    auto n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool write_line(int fd, const nlohmann::json& j) {
  return write_all(fd, detail::json_text(j) + "\n");
}

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

// Answers a client we will not serve, then closes: after reading what it
// sent (briefly), since closing a unix socket with unread data resets the
// connection and the client would lose the answer.
void refuse(int fd, const error& e) {
  write_line(fd, error_response(nullptr, e));
  ::shutdown(fd, SHUT_WR);
  char buf[4096];
  for (int i = 0; i < 20; ++i) {  // at most ~100 ms
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5) <= 0) continue;
    if (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) break;
  }
  ::close(fd);
}

} // namespace

bool line_splitter::feed(const char* data, std::size_t n) {
  buf_.append(data, n);
  auto nl = buf_.find('\n', scanned_);
  if (nl == std::string::npos) {
    scanned_ = buf_.size();
    return buf_.size() <= max_;
  }
  return nl <= max_;
}

bool line_splitter::next(std::string& line) {
  auto nl = buf_.find('\n');
  if (nl == std::string::npos) {
    scanned_ = buf_.size();
    return false;
  }
  line.assign(buf_, 0, nl);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  buf_.erase(0, nl + 1);
  scanned_ = 0;
  return true;
}

result<std::unique_ptr<server>> server::start(node& n, const std::filesystem::path& data_dir, server_options o) {
  std::unique_ptr<server> s(new server(n, data_dir));
  s->opts_ = o;
  // s->path_ (which stop() removes) is set only once the socket there is ours.
  const auto path = data_dir / socket_name;
  auto addr = unix_address::of(path);
  if (!addr) return addr.err();
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return error{errc::address_in_use, path.string() + " exists and is not a socket; aqua serve replaces only "
                                         "a stale socket there: move that file away"};
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
      bool live = ::connect(probe, addr->get(), addr->size()) == 0;
      ::close(probe);
      if (live) return error{errc::address_in_use, "another daemon already serves " + path.string()};
    }
    std::error_code ec;
    std::filesystem::remove(path, ec);  // stale socket of a daemon that died
  }
  s->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) return error{errc::io_error, std::string("control socket: ") + std::strerror(errno)};
  auto old = ::umask(077);
  int rc = ::bind(s->listen_fd_, addr->get(), addr->size());
  ::umask(old);
  if (rc == 0) s->path_ = path;
  if (rc != 0 || ::chmod(path.c_str(), 0600) != 0 || ::listen(s->listen_fd_, 64) != 0)
    return error{errc::io_error, "control socket " + path.string() + ": " + std::strerror(errno)};
  if (::pipe2(s->wake_pipe_, O_CLOEXEC) != 0) return error{errc::io_error, std::string("pipe: ") + std::strerror(errno)};
  s->acceptor_ = std::thread([p = s.get()] { p->accept_loop(); });
  return s;
}

server::~server() { stop(); }

bool server::all_clients_done() {
  std::lock_guard lock(clients_mutex_);
  return std::all_of(clients_.begin(), clients_.end(), [](const client& c) { return c.done.load(); });
}

void server::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_pipe_[1] >= 0) (void) !::write(wake_pipe_[1], "x", 1);
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard lock(clients_mutex_);
    for (auto& c : clients_)
      // Wakes their blocking reads; writes still work, so a waiting receive or send+wait answers not_running.
      if (c.fd >= 0) ::shutdown(c.fd, SHUT_RD);
  }
  // A client that sends but never reads (a pipelining script, an `inbox watch` stopped with Ctrl-Z) leaves its
  // thread blocked writing an answer: after a grace period for the answers above, cut the write side too.
  for (int i = 0; i < 100 && !all_clients_done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  {
    std::lock_guard lock(clients_mutex_);
    for (auto& c : clients_)
      if (c.fd >= 0 && !c.done) ::shutdown(c.fd, SHUT_RDWR);
  }
  for (auto& c : clients_)
    if (c.thread.joinable()) c.thread.join();
  clients_.clear();
  for (int* fd : {&listen_fd_, &wake_pipe_[0], &wake_pipe_[1]})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove(path_, ec);
}

void server::accept_loop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("control: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents || stopping_) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != ::geteuid()) {
      refuse(fd, error{errc::invalid_argument, "control socket: only the daemon's user may connect"});
      continue;
    }
    std::lock_guard lock(clients_mutex_);
    for (auto it = clients_.begin(); it != clients_.end();) {  // reap finished clients
      if (it->done) {
        it->thread.join();
        it = clients_.erase(it);
      } else {
        ++it;
      }
    }
    if (clients_.size() >= opts_.max_clients && !evict_idlest()) {
      refuse(fd, error{errc::would_block, "control socket: too many clients (" + std::to_string(opts_.max_clients) +
                                              "); try again when others have finished"});
      continue;
    }
    auto& c = clients_.emplace_back();
    c.fd = fd;
    c.idle_since_ms = steady_ms();
    c.thread = std::thread([this, &c] {
      serve_client(c);
      std::lock_guard done_lock(clients_mutex_);  // stop() must never shut down a reused fd number
      ::close(c.fd);
      c.fd = -1;
      c.done = true;
    });
  }
}

namespace {

// The client hung up: POLLHUP (a unix stream socket whose peer closed it, also with requests still unread in it)
// or POLLERR. End of input alone is no hang-up: a client that sent its requests and shut down its writing side
// (socat, `nc -N`, a pipeline) still reads the answers, and a watch's events.
bool client_gone(int fd) {
  pollfd p{fd, 0, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

} // namespace

// A connection that sends nothing must not keep others out for ever: once max_clients are connected, the one idle
// the longest (evict_idle_after_ms at least) is told so and closed. Only an idle one: a request in hand, a waiting
// receive or a watch is never cut. With the mutex held (its thread closes the fd under it).
bool server::evict_idlest() {
  const auto now = steady_ms();
  client* victim = nullptr;
  for (auto& c : clients_)
    if (!c.done && c.fd >= 0 && c.state == client::idle && now - c.idle_since_ms >= opts_.evict_idle_after_ms &&
        (!victim || c.idle_since_ms < victim->idle_since_ms))
      victim = &c;
  int expected = client::idle;
  if (!victim || !victim->state.compare_exchange_strong(expected, client::evicted)) return false;
  const auto note = detail::json_text(error_response(
                      nullptr, error{errc::would_block, "control socket: closed after " +
                                                          std::to_string((now - victim->idle_since_ms) / 1000) +
                                                          " s idle, for a new client (at most " +
                                                          std::to_string(opts_.max_clients) + " connections)"})) +
                    "\n";
  (void) ::send(victim->fd, note.data(), note.size(), MSG_NOSIGNAL | MSG_DONTWAIT);  // best effort: it is idle
  ::shutdown(victim->fd, SHUT_RDWR);
  return true;
}

void server::serve_client(client& c) {
  const int fd = c.fd;
  line_splitter lines(max_line_bytes);
  char buf[65536];
  std::string line;
  while (!stopping_) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    int expected = client::idle;
    if (!c.state.compare_exchange_strong(expected, client::busy)) return;  // evicted while it was idle
    // End of input ends the last line too: `printf '{...}' | socat - UNIX:...` sends no newline.
    const bool eof = n == 0;
    if (!(eof ? lines.feed("\n", 1) : lines.feed(buf, static_cast<std::size_t>(n)))) {
      write_line(fd, error_response(nullptr, error{errc::frame_too_large, "request line longer than " +
                                                                           std::to_string(max_line_bytes) + " bytes"}));
      return;
    }
    while (lines.next(line)) {
      if (line.empty()) continue;
      auto parsed = parse_request(line);
      if (!parsed) {
        if (!write_line(fd, error_response(nullptr, parsed.err()))) return;
        continue;
      }
      auto& req = *parsed;
      auto cmd = req.is_object() ? req.find("cmd") : req.end();
      if (cmd != req.end() && cmd->is_string() && *cmd == "watch") {
        auto after = handler_.watch_start(req);
        auto id = request_id(req);
        if (!after) {
          write_line(fd, error_response(id, after.err()));
          continue;
        }
        stream_watch(fd, *after, id);
        return;  // a watch owns the connection until the client goes away
      }
      auto response = handler_.handle(req, [fd] { return client_gone(fd); });
      if (!write_line(fd, response)) {
        give_back_unsent(req, response);
        return;
      }
    }
    if (eof) return;
    c.idle_since_ms = steady_ms();
    c.state = client::idle;
  }
}

void server::stream_watch(int fd, std::uint64_t after, const nlohmann::json& id) {
  if (!write_line(fd, {{"id", id}, {"ok", true}, {"result", {{"watching", true}, {"since", after}}}})) return;
  while (!stopping_) {
    // A batch waits in memory until the client has read it: at most 256 messages or 256 KiB of payloads (and one
    // message past that), so a watcher that stops reading holds one bounded batch whatever the backlog.
    auto batch = handler_.target().watch(after, 256, watch_batch_bytes, std::chrono::milliseconds(500));
    if (!batch) {
      write_line(fd, error_response(id, batch.err()));
      return;
    }
    const auto names = batch->empty() ? alias_map{} : handler_.aliases();
    for (auto& m : *batch) {
      after = m.sequence;
      if (!write_line(fd, {{"event", "message"}, {"message", to_json(m, names)}})) return;
    }
    if (client_gone(fd)) return;
  }
}

// A message a receive took whose answer could not be written (the client went away meanwhile) is unread again,
// for the next receive: receive marks a message read as it hands it out.
void server::give_back_unsent(const nlohmann::json& req, const nlohmann::json& response) {
  if (req.value("cmd", nlohmann::json()) != "receive" || !response.value("ok", false)) return;
  auto seq = response["result"].find("seq");
  if (seq == response["result"].end() || !seq->is_number_unsigned()) return;
  auto r = handler_.target().give_back(seq->get<std::uint64_t>());
  if (!r) spdlog::warn("control: message {} was taken by a client that went away and stays read: {}",
                       seq->get<std::uint64_t>(), r.err().what());
}

} // namespace aqua::control
