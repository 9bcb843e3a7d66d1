// The "zmq" transport plugin: the public side (listen, dial, settings).
// The I/O thread is in zmq_io.cpp, the secure link in zmq_link.cpp.
//
// Every connection starts with a Noise XX handshake bound to the node's
// identity (zmq_link.hpp): the dialler checks the peer ID its address names,
// the listener learns who connected, and every frame after it is encrypted
// and authenticated hop by hop (on top of the end-to-end envelope).

#include <aqua/multiaddr.hpp>
#include <aqua/plugin.hpp>

#include <zmq.hpp>

#include <atomic>
#include <future>
#include <map>
#include <thread>

#include "zmq_transport.hpp"

namespace aqua::zmqt {
namespace {

result<std::pair<std::string, bool>> to_endpoint(const std::string& address, bool for_bind) {
  auto ma = multiaddr::parse(address);
  if (!ma) return ma.err();
  auto& p = ma->parts();
  for (auto& part : p)
    if (part.protocol == "p2p-circuit")  // a relayed address: the relay_v2 transport's, not a direct TCP one
      return error{errc::bad_address, "zmq transport does not dial relayed addresses ('" + address + "')"};
  if (p.size() < 2 || p[1].protocol != "tcp")
    return error{errc::bad_address, "zmq transport needs /ip4|ip6|dns*/HOST/tcp/PORT, got '" + address + "'"};
  std::string host = p[0].value;
  bool v6 = p[0].protocol == "ip6" || p[0].protocol == "dns6";
  if (p[0].protocol == "ip6") host = "[" + host + "]";
  else if (p[0].protocol != "ip4" && p[0].protocol.rfind("dns", 0) != 0)
    return error{errc::bad_address, "zmq transport cannot use /" + p[0].protocol + " in '" + address + "'"};
  std::string port = p[1].value == "0" && for_bind ? "*" : p[1].value;
  if (!for_bind && p[1].value == "0") return error{errc::bad_address, "cannot dial port 0 in '" + address + "'"};
  return std::make_pair("tcp://" + host + ":" + port, v6);
}

// The peer ID a dial address names (/.../p2p/12D3KooW...), if any.
result<std::optional<peer_id>> expected_peer(const std::string& address) {
  auto ma = multiaddr::parse(address);
  if (!ma) return ma.err();
  std::optional<peer_id> out;
  for (auto& part : ma->parts())
    if (part.protocol == "p2p") {
      auto id = peer_id::parse(part.value);
      if (!id) return error{errc::bad_address, "bad /p2p/ peer ID in '" + address + "': " + id.err().message()};
      out = *id;
    }
  return out;
}

std::string to_multiaddr(const std::string& endpoint, bool v6) {
  // tcp://127.0.0.1:5555 or tcp://[::1]:5555
  auto hp = endpoint.substr(6);
  auto colon = hp.rfind(':');
  auto host = hp.substr(0, colon);
  if (v6 && host.size() > 2) host = host.substr(1, host.size() - 2);
  return std::string(v6 ? "/ip6/" : "/ip4/") + host + "/tcp/" + hp.substr(colon + 1);
}

// The process's ZeroMQ context, shared by its zmq transports: a context brings an I/O thread and a reaper thread,
// and an agent host runs one transport per agent. Sockets per context are raised from libzmq's default 1023 (a
// dialled peer costs three: its DEALER and the two PAIRs of its monitor) to what the system allows, up to 65536.
std::shared_ptr<zmq::context_t> shared_context() {
  static std::mutex m;
  static std::weak_ptr<zmq::context_t> current;
  std::lock_guard<std::mutex> g(m);
  if (auto c = current.lock()) return c;
  auto c = std::make_shared<zmq::context_t>(1);
  const int limit = c->get(zmq::ctxopt::socket_limit);
  c->set(zmq::ctxopt::max_sockets, std::min(limit, 65536));
  current = c;
  return c;
}

} // namespace

zmq_transport::zmq_transport(limits lim)
    : lim_(lim), ctx_holder_(shared_context()), ctx_(*ctx_holder_), wake_push_(ctx_, zmq::socket_type::push) {
  wake_pull_ = zmq::socket_t(ctx_, zmq::socket_type::pull);
  auto ep = inproc_endpoint("wake");
  wake_pull_.bind(ep);
  wake_push_.set(zmq::sockopt::sndhwm, 0);
  wake_push_.connect(ep);
  io_ = std::thread([this] { loop(); });
}

zmq_transport::~zmq_transport() {
  stop();
  running_ = false;
  wake();
  if (io_.joinable()) io_.join();
}

void zmq_transport::start(std::shared_ptr<transport_observer> observer, std::shared_ptr<transport_host> host) {
  std::lock_guard<std::mutex> g(obs_mutex_);
  observer_ = std::move(observer);
  host_ = std::move(host);
}

std::shared_ptr<transport_observer> zmq_transport::observer() const {
  std::lock_guard<std::mutex> g(obs_mutex_);
  return observer_;
}

result<std::string> zmq_transport::listen(const std::string& address) {
  auto ep = to_endpoint(address, true);
  if (!ep) return ep.err();
  return run_in_io<std::string>([this, ep = *ep, address]() -> result<std::string> {
    if (!host_) return error{errc::not_running, "zmq transport: start() it with the node's transport host first"};
    auto s = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::router);
    configure(*s, ep.second);
    s->set(zmq::sockopt::router_mandatory, 1);
    try {
      s->bind(ep.first);
    } catch (const zmq::error_t& e) {
      return error{e.num() == EADDRINUSE ? errc::address_in_use : errc::bad_address,
                   "cannot listen on " + address + ": " + e.what()};
    }
    auto bound = to_multiaddr(s->get(zmq::sockopt::last_endpoint), ep.second);
    auto li = std::make_shared<listener>();
    li->fd = s->get(zmq::sockopt::fd);
    li->sock = std::move(s);
    li->address = bound;
    if (auto r = open_monitor(*li); !r) return r.err();
    listeners_.push_back(std::move(li));
    std::lock_guard<std::mutex> g(obs_mutex_);
    addresses_.push_back(bound);
    return bound;
  });
}

result<std::shared_ptr<connection>> zmq_transport::dial(const std::string& address) {
  auto ep = to_endpoint(address, false);
  if (!ep) return ep.err();
  auto expected = expected_peer(address);
  if (!expected) return expected.err();
  return run_in_io<std::shared_ptr<connection>>(
    [this, ep = *ep, address, expected = *expected]() -> result<std::shared_ptr<connection>> {
      if (!host_) return error{errc::not_running, "zmq transport: start() it with the node's transport host first"};
      auto s = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
      configure(*s, ep.second);
      auto d = std::make_shared<dealer>();
      // Monitored before it connects, or a fast connect's event would be missed.
      if (auto r = open_monitor(*d, *s, address); !r) return r.err();
      try {
        s->connect(ep.first);  // asynchronous: ZeroMQ connects and reconnects with backoff
      } catch (const zmq::error_t& e) {
        close_monitor(s.get(), d->monitor);
        return error{errc::bad_address, "cannot dial " + address + ": " + e.what()};
      }
      std::weak_ptr<dealer> weak = d;
      auto c = std::make_shared<zconn>(lim_, "dialer", address, [this] { wake(); }, [this, weak] { flush_now(weak); });
      d->fd = s->get(zmq::sockopt::fd);
      d->sock = std::move(s);
      d->l = link{c, host_->new_session(true, expected), steady_ms(), 0, true, -1, std::nullopt, {}, 0, {}};
      auto first = d->l.handshake_out();  // Noise message 1; ZeroMQ queues it until connected
      if (!first || !*first) return error{errc::crypto_failure, "cannot start the Noise handshake"};
      d->l.control_out.push_back(std::move(**first));
      dealers_.push_back(std::move(d));
      return std::shared_ptr<connection>(c);
    });
}

std::vector<std::string> zmq_transport::listen_addresses() const {
  std::lock_guard<std::mutex> g(obs_mutex_);
  return addresses_;
}

void zmq_transport::stop() {
  if (!running_) return;
  run_in_io<bool>([this]() -> result<bool> {
    for (auto& d : dealers_) {
      std::lock_guard<std::mutex> g(d->m);
      d->l.conn->mark_closed(error{errc::connection_closed, "transport stopped"});
      close_monitor(d->sock.get(), d->monitor);
      d->sock.reset();
    }
    for (auto& li : listeners_) {
      std::lock_guard<std::mutex> g(li->m);
      for (auto& [rid, lk] : li->peers) lk.conn->mark_closed(error{errc::connection_closed, "transport stopped"});
      li->peers.clear();
      release_port(*li);  // the port is free when stop() returns, as it was with a context per transport
      close_monitor(li->sock.get(), li->monitor);
      li->sock.reset();
    }
    dealers_.clear();
    listeners_.clear();
    return true;
  });
  std::lock_guard<std::mutex> g(obs_mutex_);
  observer_.reset();
  addresses_.clear();
}

void zmq_transport::configure(zmq::socket_t& s, bool v6) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, lim_.hwm);
  s.set(zmq::sockopt::rcvhwm, lim_.hwm);
  // Every part is one Noise message (<= 65535 bytes) or a routing id / kind byte.
  s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(secure_session::max_message));
  s.set(zmq::sockopt::reconnect_ivl, lim_.reconnect_ivl_ms);
  s.set(zmq::sockopt::reconnect_ivl_max, lim_.reconnect_ivl_max_ms);
  if (v6) s.set(zmq::sockopt::ipv6, 1);
}

void zmq_transport::wake() {
  std::lock_guard<std::mutex> g(wake_mutex_);
  wake_push_.send(zmq::const_buffer("", 0), zmq::send_flags::dontwait);
}

result<std::unique_ptr<transport>> make_zmq(const transport_config& cfg) {
  limits lim;
  for (auto& [key, value] : cfg.settings) {
    std::size_t v = 0;
    if (key == "queue_frames" || key == "queue_bytes" || key == "max_frame_bytes") {
      auto r = parse_setting(key, value, 1, std::size_t{1} << 32);
      if (!r) return r.err();
      v = *r;
      (key == "queue_frames" ? lim.queue_frames : key == "queue_bytes" ? lim.queue_bytes : lim.max_frame_bytes) = v;
    } else if (key == "hwm" || key == "reconnect_ivl_ms" || key == "reconnect_ivl_max_ms") {
      auto r = parse_setting(key, value, 1, 1000000);
      if (!r) return r.err();
      (key == "hwm" ? lim.hwm : key == "reconnect_ivl_ms" ? lim.reconnect_ivl_ms : lim.reconnect_ivl_max_ms) =
        static_cast<int>(*r);
    } else if (key == "max_peers" || key == "max_connections" || key == "max_connections_per_ip") {
      auto r = parse_setting(key, value, 1, 1000000);
      if (!r) return r.err();
      (key == "max_peers" ? lim.max_peers : key == "max_connections" ? lim.max_connections : lim.max_connections_per_ip) = *r;
    } else if (key == "new_connections_per_ip_per_s") {
      auto r = parse_setting(key, value, 0, 1000000);
      if (!r) return r.err();
      lim.new_connections_per_ip_per_s = *r;
    } else if (key == "max_held_bytes") {
      auto r = parse_setting(key, value, 1, std::size_t{1} << 40);
      if (!r) return r.err();
      lim.max_held_bytes = *r;
    } else if (key == "handshake_timeout_ms" || key == "evict_idle_ms" || key == "resume_timeout_ms") {
      auto r = parse_setting(key, value, 1, 3600000);
      if (!r) return r.err();
      (key == "handshake_timeout_ms" ? lim.handshake_timeout_ms
       : key == "evict_idle_ms"      ? lim.evict_idle_ms
                                     : lim.resume_timeout_ms) = static_cast<std::int64_t>(*r);
    } else {
      return error{errc::config_unknown_key, "unknown setting '" + key +
                                                 "' (zmq knows queue_frames, queue_bytes, max_frame_bytes, hwm, "
                                                 "reconnect_ivl_ms, reconnect_ivl_max_ms, max_peers, max_connections, "
                                                 "max_connections_per_ip, new_connections_per_ip_per_s, max_held_bytes, "
                                                 "handshake_timeout_ms, evict_idle_ms, resume_timeout_ms)"};
    }
  }
  if (lim.max_frame_bytes > lim.queue_bytes)
    return error{errc::config_bad_value, "setting max_frame_bytes must not exceed queue_bytes"};
  if (lim.max_held_bytes < reading_allowance(lim))
    return error{errc::config_bad_value,
                 "setting max_held_bytes (" + std::to_string(lim.max_held_bytes) + ") must be at least " +
                   std::to_string(reading_allowance(lim)) +
                   " with this max_frame_bytes (two frames on the wire and 4 MiB: one connection in the middle of "
                   "a frame holds that much)"};
  // An address listen() would refuse before binding, refused here (nothing is bound): `aqua config check` catches
  // it. What only binding shows (a port in use, an address not on this host) still fails at `aqua serve`.
  for (std::size_t i = 0; i < cfg.listen.size(); ++i)
    if (auto ep = to_endpoint(cfg.listen[i], true); !ep)
      return error{errc::config_bad_address, "listen[" + std::to_string(i) + "]: " + ep.err().message()};
  return std::unique_ptr<transport>(new zmq_transport(lim));
}

} // namespace aqua::zmqt

AQUA_TRANSPORT_PLUGIN(zmq, aqua::zmqt::make_zmq)
