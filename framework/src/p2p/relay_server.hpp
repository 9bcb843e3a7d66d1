#pragma once
// Private: circuit relay v2 server (the HOP side, docs/relay.md and
// docs/protocol/relay-v2.md) on a tcp_host of its own.
//
//   relay_server rs(identity, system_env(), cfg);
//   rs.start();                          // binds cfg.listen (address_in_use, bad_address, ...)
//   rs.addresses();                      // /ip4/A/tcp/P/p2p/<relay>
//   rs.stats();                          // reservations, circuits, bytes relayed, refusals
//   rs.stop();
//
// Serves /libp2p/circuit/relay/0.2.0/hop: RESERVE (hop_policy decides; OK
// carries the Reservation with our addresses and a signed voucher, and the
// Limit; reserving again refreshes) and CONNECT (hop_policy decides; we open
// /libp2p/circuit/relay/0.2.0/stop on the destination's reservation
// connection, and on its STATUS OK answer OK and splice the two streams).
// Splicing has backpressure end to end: the source's yamux window is only
// replenished for bytes the destination stream took (manual window credit),
// so each direction buffers at most one window here plus
// max_stream_buffer in yamux. Circuits are reset when a direction passes
// the data limit or the duration limit ends; every exit path releases the
// circuit in hop_policy. A reservation ends with its connection, or at its
// expiry (swept every expire_interval_ms).
//
// Extra protocols are served through stream_service (p2p/stream_service.hpp),
// e.g. /aqua/mailbox/1.0.0. Everything runs on the host's loop thread;
// public methods may be called from any thread except that loop's.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/log_limit.hpp"
#include "p2p/hop_policy.hpp"
#include "p2p/relay_messages.hpp"
#include "p2p/stream_service.hpp"
#include "p2p/tcp_host.hpp"

namespace aqua::p2p {

struct relay_server_config {
  std::vector<std::string> listen;    // /ip4/A/tcp/P to bind (port 0: any); at least one
  std::vector<std::string> announce;  // /ip4/A/tcp/P put in reservations and identify; empty: the bound listen addrs
  relay::hop_config hop;
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_ip = 32;     // TCP connections from one IP address (refused at accept beyond)
  std::size_t new_connections_per_ip_per_s = 64;  // new TCP connections a second from one IP address; 0 = no limit
  std::size_t max_stream_buffer = 256 * 1024;  // yamux send queue per stream (beyond the peer's window)
  // A stream_service's unsent output before its stream is reset: the mailbox's fetch window (8 MiB) plus
  // one message (<= 4 MiB + 64 KiB) must fit (docs/protocol/mailbox.md, "Serving it").
  std::size_t max_service_output = 16u << 20;
  std::int64_t expire_interval_ms = 10000;     // hop_policy::expire sweep
  std::int64_t request_timeout_ms = 10000;     // a HOP stream's request, and the STOP handshake
  std::int64_t ping_interval_ms = 15000;       // keepalive on every connection; 0 = off
  // A connection from which nothing arrived this long is closed (tcp_host_config::ping_timeout_ms): a peer
  // that finished the handshake and went silent would otherwise hold its connection slot for ever; 0 = never.
  std::int64_t ping_timeout_ms = 45000;
  std::vector<stream_service> services;
};

struct relay_server_stats {
  std::vector<std::string> addresses;  // /ip4/A/tcp/P/p2p/<relay>
  std::size_t connections = 0;
  relay::hop_stats hop;                // reservations and circuits (policy view)
  std::uint64_t bytes_relayed = 0;     // spliced bytes, both directions
  std::uint64_t hop_refused = 0;       // HOP requests answered with anything but OK (incl. malformed)
  std::uint64_t stop_failed = 0;       // granted CONNECTs whose STOP handshake failed
  std::uint64_t circuits_data_limited = 0;      // reset at the data limit
  std::uint64_t circuits_duration_limited = 0;  // reset at the duration limit
  std::uint64_t service_streams = 0;   // streams handed to stream_services
};

class relay_server {
 public:
  // `identity` must outlive the server (Noise and vouchers).
  relay_server(const keypair& identity, std::shared_ptr<env> e, relay_server_config config);
  ~relay_server();
  relay_server(const relay_server&) = delete;
  relay_server& operator=(const relay_server&) = delete;

  // Validates the addresses and binds every listen address; the first
  // failure stops the server and is returned ("relay: listen on ...: ...").
  result<void> start();
  void stop();  // idempotent
  // Before start(): one more protocol to serve (e.g. one that needs post()/every()).
  void add_service(stream_service svc) { config_.services.push_back(std::move(svc)); }
  // Any thread: runs `fn` on the server's loop thread; false when not running.
  bool post(std::function<void()> fn) { return host_->post(std::move(fn)); }
  // Runs `fn` on the loop thread every `interval_ms` from start() (or now) until stop().
  // Before start() from the thread that starts the server; afterwards from any thread.
  void every(std::int64_t interval_ms, std::function<void()> fn);
  std::vector<std::string> addresses() const;  // valid after start()
  relay_server_stats stats();
  peer_id id() const { return self_; }

 private:
  using skey = std::pair<conn_id, std::uint32_t>;
  struct peer_conn {
    peer_id peer;
    std::string ip;
    bool relayed = false;
  };
  struct hop_stream {
    relay::delimited_reader reader;
    timer_id timer = 0;
  };
  struct direction {
    bytes pending;               // received, not yet taken by the other stream
    std::uint64_t received = 0;  // for the data limit
    bool fin = false;            // the sender half-closed
    bool fin_sent = false;       // passed on
  };
  struct circuit {
    std::uint64_t policy_id = 0;
    skey src, dst;  // HOP stream (source's connection), STOP stream (destination's)
    peer_id src_peer, dst_peer;
    relay::circuit_grant grant;
    relay::delimited_reader stop_reader;
    bool established = false;
    timer_id timer = 0;  // STOP timeout, then the duration limit
    direction to_dst, to_src;
  };
  struct service_stream {
    std::unique_ptr<stream_handler> handler;
    std::uint64_t generation = 0;
    bytes out;  // output the stream did not take yet
    bool closing = false;
  };

  tcp_host_config host_config();
  // relay_server.cpp: connections, HOP requests, reservations.
  void on_established(conn_id c, const peer_id& peer, bool inbound);
  void on_event(conn_id c, p2p_event& ev);
  void on_closed(conn_id c, const error& e);
  void on_hop_data(skey k, bytes_view data);
  void on_reserve(skey k, const peer_conn& pc);
  void answer_hop(skey k, relay::status code, const std::string& why);
  void sweep();
  std::vector<bytes> reservation_addrs() const;
  std::vector<std::string> compute_addresses() const;
  // relay_circuits.cpp: CONNECT, STOP, splicing, limits.
  void on_connect(skey k, const peer_conn& pc, const relay::hop_message& m, bytes early);
  void on_stop_opened(std::uint64_t id);
  void on_stop_data(std::uint64_t id, bytes_view data);
  void on_circuit_event(std::uint64_t id, skey from, p2p_event& ev);
  void forward(std::uint64_t id, bool to_dst);
  void end_circuit(std::uint64_t id, const std::string& why, bool reset);
  // relay_services.cpp: stream_service dispatch.
  void open_service(skey k, const stream_service& svc, const peer_conn& pc);
  void on_service_event(skey k, p2p_event& ev);
  void drive_service(skey k);
  void drop_service(skey k, bool reset);

  const keypair& key_;
  peer_id self_;
  std::shared_ptr<env> env_;
  relay_server_config config_;
  relay::hop_policy policy_;
  std::unique_ptr<tcp_host> host_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // wake() closures check it
  std::vector<std::string> bound_;                          // /ip4/A/tcp/P actually bound
  std::vector<std::string> addrs_;                          // announced, with /p2p/<self> (set by start())
  std::map<conn_id, peer_conn> conns_;
  std::map<peer_id, conn_id> reservation_conn_;
  std::map<skey, hop_stream> hops_;
  std::map<std::uint64_t, circuit> circuits_;
  std::map<skey, std::uint64_t> circuit_of_;
  std::uint64_t next_circuit_ = 1;
  std::map<skey, service_stream> services_;
  std::uint64_t next_generation_ = 1;
  timer_id sweep_timer_ = 0;
  bool started_ = false;
  std::vector<std::function<void()>> pending_ticks_;  // every() before start()
  relay_server_stats counters_;  // the counters; addresses, connections and hop filled by stats()
  log_limit refused_log_{5, 10000};  // refused reservations: the client only learns RESERVATION_REFUSED
};

// "/ip4/A/tcp/P" -> (A, P); bad_address otherwise.
result<std::pair<std::string, std::uint16_t>> parse_ip4_tcp(const std::string& addr);

} // namespace aqua::p2p
