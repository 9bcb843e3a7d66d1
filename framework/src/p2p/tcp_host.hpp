#pragma once
// Private: a small I/O runtime for p2p_connections over TCP (IPv4). One
// thread runs an epoll loop: non-blocking listen/dial, the connections'
// bytes in and out, timers, and a thread-safe command queue (eventfd).
//
//   tcp_host h(identity, system_env(), config, callbacks);
//   h.start();
//   auto port = h.call([&] { return h.listen("127.0.0.1", 0); });   // from another thread
//   // in callbacks (loop thread): h.open_stream(c, {...}), h.write(c, s, bytes), h.close(c, why) ...
//   h.stop();
//
// Callbacks run on the loop thread and may call any loop-thread method.
// Methods marked "loop thread" must only be called there (callbacks,
// post(), call()); post()/call()/start()/stop() are for any thread.
//
// A connection can also be carried by a stream of another connection
// (adopt_stream): a relayed circuit, upgraded again (Noise + yamux) inside
// the stream. Its events come through the same callbacks with its own ID.
//
// Bounds: max_connections (at most half the open-file limit),
// max_connections_per_ip and new_connections_per_ip_per_s, refused at accept; out of descriptors, a pending
// connection is accepted on a spare descriptor and closed at once (else the
// readable listener would spin the loop); per connection, output not yet taken by the
// socket (or the carrier stream) above max_output_buffer stops reading from
// that connection (TCP) or closes it (carried); reads of 64 KiB, at most
// 16 per wake-up per connection; max_commands queued; handshake timeout;
// an established connection from which nothing at all arrived for
// ping_timeout_ms is closed with errc::timeout (p2p/keepalive.hpp).

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <deque>
#include <thread>
#include <type_traits>

#include "aqua/env.hpp"
#include "core/rate_buckets.hpp"
#include "p2p/keepalive.hpp"
#include "p2p/p2p_connection.hpp"

namespace aqua::p2p {

using conn_id = std::uint64_t;
using timer_id = std::uint64_t;

struct tcp_host_config {
  p2p_config p2p;                              // template for every connection (listen_addrs empty:
                                               // 127.0.0.1 with our listen ports)
  std::size_t max_connections = 256;          // start() lowers it to half the open-file limit (RLIMIT_NOFILE)
  std::size_t max_connections_per_ip = 0;      // accepted TCP connections from one IPv4 address; 0 = no limit
  // New TCP connections a second from one IPv4 address (a bucket of that many, refilled at that rate: each is a
  // Noise handshake we pay for, core/rate_buckets.hpp); more are closed at accept. 0 = no limit.
  std::size_t new_connections_per_ip_per_s = 0;
  std::size_t max_output_buffer = 8u << 20;    // per connection
  std::int64_t handshake_timeout_ms = 10000;   // until established
  std::int64_t ping_interval_ms = 0;           // keepalive ping per established connection; 0 = off
  // An established connection from which no byte at all arrived for this long (no ping answer, no ping of
  // its own, no window update) is closed with errc::timeout: its peer is dead, or holds a connection slot
  // without using it. Keep it at 2-3 ping intervals, so that a live peer has answered a ping or two; 0 = never.
  std::int64_t ping_timeout_ms = 0;
  std::size_t max_commands = 4096;
};

struct tcp_host_callbacks {
  // The upgrade finished: `peer` is verified. `inbound`: the peer dialled us (or opened the circuit).
  std::function<void(conn_id, const peer_id& peer, bool inbound)> on_established;
  // Every p2p_event but `established`. Stream events of carrier streams (see adopt_stream) are not reported.
  std::function<void(conn_id, p2p_event&)> on_event;
  // The connection is gone (before or after establishment).
  std::function<void(conn_id, const error&)> on_closed;
};

struct dial_options {
  std::optional<peer_id> expected;  // refuse another peer (wrong_recipient)
  bool identify = false;            // ask the peer's identify once established
};

class tcp_host {
 public:
  // `identity` must outlive the host.
  tcp_host(const keypair& identity, std::shared_ptr<env> e, tcp_host_config config, tcp_host_callbacks callbacks);
  // Noise sessions from `sessions` (e.g. a plugin's transport_host); `self` is our public key.
  tcp_host(session_factory sessions, const public_key& self, std::shared_ptr<env> e, tcp_host_config config,
           tcp_host_callbacks callbacks);
  ~tcp_host();
  tcp_host(const tcp_host&) = delete;
  tcp_host& operator=(const tcp_host&) = delete;

  result<void> start();
  // Closes every connection (on_closed for each) and joins the thread. Idempotent.
  void stop();

  // Any thread: runs `fn` on the loop thread. false when stopped or the queue is full.
  bool post(std::function<void()> fn);
  // Any thread but the loop's: runs `fn` there and waits for its result.
  template <class F>
  auto call(F fn) -> decltype(fn()) {
    using R = decltype(fn());
    auto p = std::make_shared<std::promise<R>>();
    auto fut = p->get_future();
    const bool posted = post([p, fn = std::move(fn)]() mutable {
      if constexpr (std::is_void_v<R>) {
        fn();
        p->set_value();
      } else {
        p->set_value(fn());
      }
    });
    if (!posted) {
      if constexpr (std::is_constructible_v<R, error>) return R(error{errc::not_running, "tcp host: not running"});
      else return R();
    }
    return fut.get();
  }
  bool on_loop_thread() const noexcept { return std::this_thread::get_id() == loop_id_.load(); }

  // ---- loop thread ----
  // Binds ip:port (port 0 = any); returns the port.
  result<std::uint16_t> listen(const std::string& ip, std::uint16_t port);
  result<conn_id> dial(const std::string& ip, std::uint16_t port, dial_options opts = {});
  // A connection carried by `stream` of connection `parent`, upgraded again
  // (as_dialer: we are the Noise initiator). `initial` = bytes already read
  // from the stream. The stream's events stop reaching on_event.
  result<conn_id> adopt_stream(conn_id parent, std::uint32_t stream, bool as_dialer, dial_options opts,
                               bytes initial = {});
  result<std::uint32_t> open_stream(conn_id c, std::vector<std::string> protocols);
  result<std::size_t> write(conn_id c, std::uint32_t stream, bytes_view data);
  result<void> close_stream(conn_id c, std::uint32_t stream);
  result<void> reset_stream(conn_id c, std::uint32_t stream);
  // Window credit for stream data passed on (p2p_connection::consumed; only
  // with p2p.yamux.window_update_on_delivery = false).
  void consumed(conn_id c, std::uint32_t stream, std::size_t n);
  // Direct access; call flush(c) after using it.
  p2p_connection* connection(conn_id c);
  void flush(conn_id c);
  void close(conn_id c, const error& reason);
  // The peer's ip:port as "/ip4/A/tcp/P" (TCP), or the parent's for carried connections.
  std::string remote_address(conn_id c) const;
  std::optional<conn_id> parent_of(conn_id c) const;
  timer_id add_timer(std::int64_t delay_ms, std::function<void()> fn);
  void cancel_timer(timer_id t);
  std::vector<std::uint16_t> listen_ports() const;
  // Application protocols accepted by connections created from now on.
  void set_protocols(std::vector<std::string> protocols) { config_.p2p.protocols = std::move(protocols); }
  // Binary multiaddrs announced in identify by connections created from now on.
  void set_listen_addrs(std::vector<bytes> addrs) { config_.p2p.listen_addrs = std::move(addrs); }
  std::size_t connection_count() const noexcept { return conns_.size(); }
  env& environment() noexcept { return *env_; }
  peer_id local_peer() const { return peer_id::from_public_key(self_); }

 private:
  struct conn {
    int fd = -1;                 // TCP; -1 for a carried connection
    bool connecting = false;
    bool want_out = false;       // EPOLLOUT registered
    bool reading_paused = false;
    bool inbound = false;
    bool established = false;
    std::optional<std::uint32_t> ip;  // accepted TCP: the peer's IPv4 address, counted in per_ip_
    conn_id parent = 0;          // carried: the carrier connection and stream
    std::uint32_t parent_stream = 0;
    std::map<std::uint32_t, conn_id> carried;  // our streams that carry nested connections
    std::optional<p2p_connection> p2p;
    bytes out;                   // TCP bytes the socket did not take yet / carrier bytes not yet written
    std::size_t out_pos = 0;
    std::string remote;          // "/ip4/A/tcp/P"
    timer_id handshake_timer = 0;
    timer_id keepalive_timer = 0;
    std::optional<keepalive> alive;  // once established: pings and silence
  };

  void run();
  void on_readable(conn_id id);
  void on_writable(conn_id id);
  void accept_all(std::size_t listener);
  // accept4 failed with EMFILE/ENFILE: takes one pending connection off the listener's queue and closes it.
  // false: it could not (the listener is paused for a moment instead).
  bool shed_connection(std::size_t listener);
  // Rate limit for logs an attacker can trigger at will: true at most once per second per `last`.
  bool log_due(std::int64_t& last_ms);
  conn_id add_conn(conn c, bool as_dialer, const dial_options& opts, bytes observed);
  void pump(conn_id id);
  void route_to_child(conn_id child, p2p_event& ev);
  void update_interest(conn_id id, conn& c);
  // Schedules the connection's next keepalive step (ping, or the silence check).
  void arm_keepalive(conn_id id);
  void on_keepalive(conn_id id);
  // Bytes from the peer wait in the socket (a carried connection: in its carrier's).
  bool unread(const conn& c) const;
  void run_timers();
  std::int64_t mono_ms() const;

  std::shared_ptr<env> env_;
  session_factory sessions_;
  public_key self_;
  tcp_host_config config_;
  tcp_host_callbacks cb_;
  int epfd_ = -1;
  int evfd_ = -1;
  std::vector<int> listen_fds_;
  int spare_fd_ = -1;                          // /dev/null, given up to shed a connection out of descriptors
  std::map<std::uint32_t, std::size_t> per_ip_;  // accepted TCP connections by IPv4 address
  rate_buckets<std::uint32_t> new_per_ip_{0};  // new_connections_per_ip_per_s (set in the constructors)
  std::uint64_t refused_ = 0;                  // connections refused at accept (limits, no descriptors)
  std::uint64_t silent_closed_ = 0;             // established connections closed for silence (ping_timeout_ms)
  std::int64_t refusal_logged_ms_ = 0, shed_logged_ms_ = 0, silence_logged_ms_ = 0;
  std::vector<std::uint16_t> listen_ports_;
  std::map<conn_id, conn> conns_;
  conn_id next_conn_ = 1;
  std::multimap<std::int64_t, timer_id> timer_queue_;
  std::map<timer_id, std::function<void()>> timers_;
  timer_id next_timer_ = 1;
  std::mutex mu_;
  std::deque<std::function<void()>> commands_;
  bool accepting_ = false;     // guarded by mu_
  std::atomic<bool> stop_{false};
  std::atomic<std::thread::id> loop_id_{};
  std::thread thread_;
};

} // namespace aqua::p2p
