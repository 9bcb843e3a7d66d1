// tcp_host: the loop thread, sockets, timers and the command queue.
// Connection plumbing (pumping events, carried connections) is in tcp_host_conn.cpp.
#include "p2p/tcp_host.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

#include "p2p/multiaddr_bytes.hpp"

namespace aqua::p2p {
namespace {

constexpr std::uint64_t listener_tag = std::uint64_t{1} << 63;
constexpr std::size_t read_chunk = 64 * 1024;
constexpr int reads_per_wake = 16;

error sys_error(errc code, const std::string& what) { return error{code, what + ": " + std::strerror(errno)}; }

std::string addr_text(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return std::string("/ip4/") + ip + "/tcp/" + std::to_string(ntohs(a.sin_port));
}

result<sockaddr_in> make_addr(const std::string& ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1)
    return error{errc::bad_address, "tcp host: not an IPv4 address: " + ip};
  return a;
}

} // namespace

tcp_host::tcp_host(const keypair& identity, std::shared_ptr<env> e, tcp_host_config config,
                   tcp_host_callbacks callbacks)
    : env_(std::move(e)), sessions_(keypair_sessions(identity, *env_)), self_(identity.pub()),
      config_(std::move(config)), cb_(std::move(callbacks)), new_per_ip_(config_.new_connections_per_ip_per_s) {}

tcp_host::tcp_host(session_factory sessions, const public_key& self, std::shared_ptr<env> e, tcp_host_config config,
                   tcp_host_callbacks callbacks)
    : env_(std::move(e)), sessions_(std::move(sessions)), self_(self), config_(std::move(config)),
      cb_(std::move(callbacks)), new_per_ip_(config_.new_connections_per_ip_per_s) {}

tcp_host::~tcp_host() { stop(); }

std::int64_t tcp_host::mono_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

result<void> tcp_host::start() {
  if (thread_.joinable()) return error{errc::invalid_argument, "tcp host: already started"};
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return sys_error(errc::io_error, "epoll_create1");
  evfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (evfd_ < 0) return sys_error(errc::io_error, "eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev);
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // Each TCP connection takes a descriptor, and the process needs others (store, control API, plugins):
  // connections alone must not use up the limit.
  if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    const std::size_t most = std::max<std::size_t>(static_cast<std::size_t>(rl.rlim_cur) / 2, 16);
    if (config_.max_connections > most) {
      spdlog::info("tcp host: takes at most {} connections (max_connections {}; half the open-file limit {})", most,
                   config_.max_connections, rl.rlim_cur);
      config_.max_connections = most;
    }
  }
  {
    std::lock_guard lk(mu_);
    accepting_ = true;
  }
  thread_ = std::thread([this] { run(); });
  return ok();
}

void tcp_host::stop() {
  {
    std::lock_guard lk(mu_);
    accepting_ = false;
  }
  if (!thread_.joinable()) return;
  stop_ = true;
  std::uint64_t one = 1;
  (void) !::write(evfd_, &one, sizeof one);
  thread_.join();
  ::close(evfd_);
  ::close(epfd_);
  if (spare_fd_ >= 0) ::close(spare_fd_);
  evfd_ = epfd_ = spare_fd_ = -1;
}

bool tcp_host::post(std::function<void()> fn) {
  {
    std::lock_guard lk(mu_);
    if (!accepting_ || commands_.size() >= config_.max_commands) return false;
    commands_.push_back(std::move(fn));
  }
  std::uint64_t one = 1;
  (void) !::write(evfd_, &one, sizeof one);
  return true;
}

timer_id tcp_host::add_timer(std::int64_t delay_ms, std::function<void()> fn) {
  const timer_id t = next_timer_++;
  timers_[t] = std::move(fn);
  timer_queue_.emplace(mono_ms() + std::max<std::int64_t>(0, delay_ms), t);
  return t;
}

void tcp_host::cancel_timer(timer_id t) { timers_.erase(t); }

void tcp_host::run_timers() {
  const auto now = mono_ms();
  // Timers added while running fire on a later round (bounded per round).
  std::vector<timer_id> due;
  while (!timer_queue_.empty() && timer_queue_.begin()->first <= now && due.size() < 1024) {
    due.push_back(timer_queue_.begin()->second);
    timer_queue_.erase(timer_queue_.begin());
  }
  for (auto t : due) {
    auto it = timers_.find(t);
    if (it == timers_.end()) continue;
    auto fn = std::move(it->second);
    timers_.erase(it);
    fn();
  }
}

void tcp_host::run() {
  loop_id_ = std::this_thread::get_id();
  epoll_event evs[64];
  while (!stop_) {
    int timeout = 1000;
    while (!timer_queue_.empty() && !timers_.count(timer_queue_.begin()->second))
      timer_queue_.erase(timer_queue_.begin());
    if (!timer_queue_.empty())
      timeout = static_cast<int>(std::clamp<std::int64_t>(timer_queue_.begin()->first - mono_ms(), 0, 1000));
    const int n = epoll_wait(epfd_, evs, 64, timeout);
    for (int i = 0; i < n && !stop_; ++i) {
      const std::uint64_t key = evs[i].data.u64;
      if (key == 0) {
        std::uint64_t v;
        (void) !::read(evfd_, &v, sizeof v);
        std::deque<std::function<void()>> cmds;
        {
          std::lock_guard lk(mu_);
          cmds.swap(commands_);
        }
        for (auto& c : cmds) c();
      } else if (key & listener_tag) {
        accept_all(key & ~listener_tag);
      } else {
        if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(key);
        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(key);
      }
    }
    run_timers();
  }
  // Shutdown: close everything on the loop thread.
  {
    std::lock_guard lk(mu_);
    commands_.clear();
  }
  const std::size_t bound = conns_.size();
  for (std::size_t i = 0; i < bound && !conns_.empty(); ++i)
    close(conns_.begin()->first, error{errc::not_running, "tcp host stopped"});
  for (int fd : listen_fds_) ::close(fd);
  listen_fds_.clear();
  timers_.clear();
  timer_queue_.clear();
}

result<std::uint16_t> tcp_host::listen(const std::string& ip, std::uint16_t port) {
  auto a = make_addr(ip, port);
  if (!a) return a.err();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errc::io_error, "socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&*a), sizeof *a) != 0 || ::listen(fd, 128) != 0) {
    auto e = sys_error(errno == EADDRINUSE ? errc::address_in_use : errc::io_error, "listen on " + ip);
    ::close(fd);
    return e;
  }
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = listener_tag | listen_fds_.size();
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  listen_fds_.push_back(fd);
  listen_ports_.push_back(ntohs(bound.sin_port));
  return listen_ports_.back();
}

std::vector<std::uint16_t> tcp_host::listen_ports() const { return listen_ports_; }

bool tcp_host::log_due(std::int64_t& last_ms) {
  const std::int64_t now = mono_ms();
  if (last_ms != 0 && now - last_ms < 1000) return false;
  last_ms = now;
  return true;
}

void tcp_host::accept_all(std::size_t listener) {
  const int listen_fd = listen_fds_[listener];
  for (int i = 0; i < 64; ++i) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && shed_connection(listener)) continue;
      return;  // EAGAIN: the queue is empty
    }
    const std::uint32_t ip = peer.sin_addr.s_addr;
    const std::size_t from_ip = per_ip_.count(ip) ? per_ip_[ip] : 0;
    const bool over_ip = config_.max_connections_per_ip != 0 && from_ip >= config_.max_connections_per_ip;
    const bool over_total = conns_.size() >= config_.max_connections;
    // Last: a connection refused for another reason spends no token. Each kept one costs a Noise handshake.
    const bool over_rate = !over_ip && !over_total && !new_per_ip_.take(ip, mono_ms());
    if (over_ip || over_total || over_rate) {
      ++refused_;
      if (log_due(refusal_logged_ms_))
        spdlog::warn("tcp host: refusing {}: {} ({} refused in all)", addr_text(peer),
                     over_ip     ? std::to_string(from_ip) + " connections from its address (max_connections_per_ip " +
                                   std::to_string(config_.max_connections_per_ip) + ")"
                     : over_rate ? "too many new connections a second from its address (new_connections_per_ip_per_s " +
                                     std::to_string(config_.new_connections_per_ip_per_s) + ")"
                                 : std::to_string(conns_.size()) + " connections (max_connections " +
                                     std::to_string(config_.max_connections) + ")",
                     refused_);
      ::close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn c;
    c.fd = fd;
    c.inbound = true;
    c.ip = ip;
    ++per_ip_[ip];
    c.remote = addr_text(peer);
    auto observed = multiaddr_from_text(c.remote);
    add_conn(std::move(c), false, {}, observed ? *observed : bytes{});
  }
}

bool tcp_host::shed_connection(std::size_t listener) {
  const int err = errno;
  ++refused_;
  if (log_due(shed_logged_ms_))
    spdlog::warn("tcp host: out of file descriptors ({}) with {} connections: closing new ones at once "
                 "({} refused in all)",
                 std::strerror(err), conns_.size(), refused_);
  const int listen_fd = listen_fds_[listener];
  if (spare_fd_ >= 0) {
    ::close(spare_fd_);
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    const int accept_err = errno;
    if (fd >= 0) ::close(fd);
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0 || accept_err == EAGAIN || accept_err == EWOULDBLOCK) return fd >= 0;
  }
  // No spare (another thread took it): stop polling the listener for a moment rather than spin.
  epoll_event ev{};
  ev.data.u64 = listener_tag | listener;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, listen_fd, &ev);
  add_timer(100, [this, listener] {
    if (spare_fd_ < 0) spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (listener >= listen_fds_.size()) return;
    epoll_event again{};
    again.events = EPOLLIN;
    again.data.u64 = listener_tag | listener;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, listen_fds_[listener], &again);
  });
  return false;
}

result<conn_id> tcp_host::dial(const std::string& ip, std::uint16_t port, dial_options opts) {
  if (conns_.size() >= config_.max_connections)
    return error{errc::would_block, "tcp host: " + std::to_string(conns_.size()) + " connections"};
  auto a = make_addr(ip, port);
  if (!a) return a.err();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errc::io_error, "socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&*a), sizeof *a) != 0 && errno != EINPROGRESS) {
    auto e = sys_error(errc::connection_refused, "connect to " + addr_text(*a));
    ::close(fd);
    return e;
  }
  conn c;
  c.fd = fd;
  c.connecting = true;
  c.remote = addr_text(*a);
  auto observed = multiaddr_from_text(c.remote);
  return add_conn(std::move(c), true, opts, observed ? *observed : bytes{});
}

void tcp_host::update_interest(conn_id id, conn& c) {
  if (c.fd < 0) return;
  const bool want_out = c.connecting || c.out_pos < c.out.size();
  const bool paused = c.out.size() - c.out_pos > config_.max_output_buffer;
  if (want_out == c.want_out && paused == c.reading_paused) return;
  c.want_out = want_out;
  c.reading_paused = paused;
  epoll_event ev{};
  ev.events = (paused ? 0u : EPOLLIN) | (want_out ? EPOLLOUT : 0u);
  ev.data.u64 = id;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void tcp_host::on_writable(conn_id id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  conn& c = it->second;
  if (c.connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      errno = err;
      close(id, sys_error(errc::connection_refused, "connect to " + c.remote));
      return;
    }
    c.connecting = false;
  }
  flush(id);
}

void tcp_host::on_readable(conn_id id) {
  for (int i = 0; i < reads_per_wake; ++i) {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second.connecting || it->second.reading_paused) return;
    conn& c = it->second;
    std::uint8_t buf[read_chunk];
    const ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n == 0) {
      close(id, error{errc::connection_closed, "closed by " + c.remote});
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      close(id, sys_error(errc::connection_closed, "read from " + c.remote));
      return;
    }
    if (c.alive) c.alive->received(mono_ms());
    auto r = c.p2p->on_data(bytes_view(buf, static_cast<std::size_t>(n)));
    if (!r) {
      flush(id);
      close(id, r.err());
      return;
    }
    pump(id);
  }
}

} // namespace aqua::p2p
