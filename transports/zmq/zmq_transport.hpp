#pragma once
// The "zmq" transport plugin (private to the plugin): direct connections
// over tcp multiaddrs (/ip4/A/tcp/P, /ip6/A/tcp/P, /dns4|dns6|dns/H/tcp/P,
// with an optional /p2p/ID naming the peer to authenticate). A ROUTER per
// listen address, a DEALER per dial. Each socket has a mutex; whoever holds
// it may use the socket (ZeroMQ allows a socket to move between threads
// behind a full memory barrier). A sender seals and sends its frame in its
// own thread when the socket is free, so a frame leaves without waking
// another thread; the I/O thread reads every socket, runs the handshakes and
// sends what senders left queued. It polls each socket's ZMQ_FD (never the
// socket itself, which another thread may be using) and re-checks
// ZMQ_EVENTS under the mutex after every use, as ZMQ_FD is edge-triggered.
// Other threads talk to it through bounded per-connection queues and an
// inproc wake-up socket. Every connection is a Noise XX secure link
// (zmq_link.hpp) bound to the node's identity.

#include <aqua/transport.hpp>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <thread>
#include <unordered_map>

#include "core/log_limit.hpp"
#include "zmq_guard.hpp"
#include "zmq_meter.hpp"
#include "zmq_link.hpp"

namespace aqua::zmqt {

// A new inproc endpoint name. Names are unique in the process, not derived from addresses: the ZeroMQ context is
// shared by every transport (zmq_transport.cpp) and unbinds a closed socket's endpoint only once its reaper gets to
// it, so a transport (or socket) allocated where a closed one was found the name still taken ("Address already in
// use" from the factory).
inline std::string inproc_endpoint(const char* what) {
  static std::atomic<std::uint64_t> counter{0};
  return std::string("inproc://aqua-zmq-") + what + "-" + std::to_string(++counter);
}

class zmq_transport : public transport {
 public:
  explicit zmq_transport(limits lim);
  ~zmq_transport() override;

  std::string plugin_name() const override { return "zmq"; }
  void start(std::shared_ptr<transport_observer> observer, std::shared_ptr<transport_host> host) override;
  result<std::string> listen(const std::string& address) override;
  result<std::shared_ptr<connection>> dial(const std::string& address) override;
  std::vector<std::string> listen_addresses() const override;
  void stop() override;

 private:
  // The mutex guards the socket and the links on it; the I/O thread resets
  // `sock` (under the mutex) when it drops the socket.
  struct listener {
    std::mutex m;
    std::unique_ptr<zmq::socket_t> sock;
    zmq::fd_t fd{};
    std::string address;
    std::map<std::string, link> peers;  // routing id -> link
    // I/O thread only: libzmq's monitor of the ROUTER's TCP connections, the
    // guard that limits them (zmq_guard.hpp), and each kept connection's peer
    // "ip port", to check an fd still is that connection before shutting it down.
    std::unique_ptr<zmq::socket_t> monitor;
    std::unique_ptr<conn_guard> guard;
    std::uint16_t port = 0;
    std::unordered_map<int, std::string> endpoints;
    std::unique_ptr<byte_meter> meter;  // bytes libzmq holds per connection (zmq_meter.hpp)
    std::int64_t metered_ms = 0;        // last check_meter
    std::size_t refused = 0;  // since the last warning (one per second at most)
    std::int64_t refused_logged_ms = 0;
  };
  struct dealer {
    std::mutex m;
    std::unique_ptr<zmq::socket_t> sock;
    zmq::fd_t fd{};
    link l;
    // I/O thread only: libzmq's monitor of the DEALER's TCP connection (one at a time; a new one after each
    // reconnect), metered like a listener's (zmq_meter.hpp): a fake listener at a dialled address could
    // otherwise grow the node with a message that never ends.
    std::unique_ptr<zmq::socket_t> monitor;
    std::unique_ptr<byte_meter> meter;
    std::unordered_map<int, std::string> endpoints;  // fd -> the peer's "ip port"
    std::int64_t metered_ms = 0;
  };

  void configure(zmq::socket_t& s, bool v6);
  void wake();
  template <class T>
  result<T> run_in_io(std::function<result<T>()> fn) {
    if (std::this_thread::get_id() == io_.get_id()) return fn();
    auto p = std::make_shared<std::promise<result<T>>>();
    auto fut = p->get_future();
    {
      std::lock_guard<std::mutex> g(cmd_mutex_);
      commands_.push_back([fn, p] { p->set_value(fn()); });
    }
    wake();
    return fut.get();
  }

  // zmq_io.cpp: the I/O thread.
  void loop();
  void housekeeping();
  enum class sent { ok, would_block, unreachable };
  // Sends a multipart message (after `rid` for ROUTERs) without blocking.
  sent send_parts(zmq::socket_t& s, const std::string* rid, const parts& p);
  void flush(zmq::socket_t& s, link& l, const std::string* rid);
  void on_router_message(const std::shared_ptr<listener>& l, const std::string& rid, std::vector<zmq::message_t>& msg);
  // A full listener's longest-idle established peer, dropped to make room; false if none idles long enough.
  bool evict_idle_peer(listener& li);
  void on_dealer_message(dealer& d, std::vector<zmq::message_t>& msg);
  // Erases a listener's peer; its TCP connection must start a new handshake in time (conn_guard).
  std::map<std::string, link>::iterator erase_peer(listener& li, std::map<std::string, link>::iterator it);
  // zmq_monitor.cpp: the listener's connection guard, in the I/O thread.
  result<void> open_monitor(listener& li);
  void read_monitor(listener& li);
  void close_overdue(listener& li);
  // Shuts down the listener's TCP connection `fd` if it still is the one its monitor recorded; false if not.
  bool cut_connection(listener& li, int fd);
  // Shuts down connections of which libzmq holds more than the meter allows (at most every meter_interval_ms);
  // `paused`: the socket is not being read (an inbound queue is full), so whole messages may pile up in it.
  void check_meter(listener& li, bool paused);
  result<void> open_monitor(dealer& d, zmq::socket_t& sock, const std::string& address);
  void read_monitor(dealer& d);
  // Dialler side, when the TCP connection of an established (or resuming) link ended: a new Noise handshake with
  // the same peer, sent when ZeroMQ has reconnected (docs/transports.md, "Resuming").
  void resume(dealer& d);
  void check_meter(dealer& d, bool paused);
  // Detaches a socket's monitor (before the socket goes).
  static void close_monitor(zmq::socket_t* sock, std::unique_ptr<zmq::socket_t>& monitor);
  // Unbinds a listener and waits (at most 2 s) until ZeroMQ has closed its listening TCP socket.
  void release_port(listener& li);
  // I/O thread, with the socket's mutex held: reads what the socket has.
  // True when it stopped before the socket ran dry (come back at once).
  bool drain_router(const std::shared_ptr<listener>& li, std::size_t max_parts);
  bool drain(dealer& d, std::size_t max_parts);
  // A sender's thread, after queueing a frame: send now if the socket is free.
  void flush_now(const std::weak_ptr<dealer>& d);
  void flush_now(const std::weak_ptr<listener>& li, const std::string& rid);
  // After using a socket from a sender's thread: wake the I/O thread if the
  // socket has input (that use may have consumed the ZMQ_FD edge) or a frame
  // is still queued.
  void after_use(zmq::socket_t& s, const link& l);
  // I/O thread, without any socket mutex: tells the readers of the
  // connections that got frames this turn.
  void notify_readable();
  void fail_link(link& l, const error& why);
  // A line about something a peer did (a failed handshake or link), under peer_log_ (any thread).
  template <class... Args>
  void peer_warn(fmt::format_string<Args..., std::string> f, Args&&... args) {
    std::lock_guard<std::mutex> g(peer_log_mutex_);
    warn_limited(peer_log_, steady_ms(), f, std::forward<Args>(args)...);
  }
  std::shared_ptr<transport_observer> observer() const;

  limits lim_;
  // One ZeroMQ context (its I/O and reaper threads) for every zmq transport in the process, e.g. a daemon's and
  // each of its agents' (shared_context() in zmq_transport.cpp); the last one to go terminates it.
  std::shared_ptr<zmq::context_t> ctx_holder_;
  zmq::context_t& ctx_;
  zmq::socket_t wake_push_;
  zmq::socket_t wake_pull_;
  std::mutex wake_mutex_;
  std::mutex cmd_mutex_;
  std::vector<std::function<void()>> commands_;
  mutable std::mutex obs_mutex_;
  std::shared_ptr<transport_observer> observer_;
  std::shared_ptr<transport_host> host_;
  std::vector<std::string> addresses_;
  std::vector<std::shared_ptr<listener>> listeners_;  // the vectors: I/O thread only
  std::vector<std::shared_ptr<dealer>> dealers_;
  std::vector<std::shared_ptr<zconn>> readable_;  // I/O thread only
  std::mutex peer_log_mutex_;
  log_limit peer_log_;
  std::atomic<bool> running_{true};
  std::thread io_;
};

} // namespace aqua::zmqt
