// relay_server: lifecycle, connections, HOP requests and reservations.
// Circuits (CONNECT, STOP, splicing) are in relay_circuits.cpp, stream
// services in relay_services.cpp.
#include "p2p/relay_server.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <spdlog/spdlog.h>

#include "p2p/multiaddr_bytes.hpp"
#include "p2p/signed_envelope.hpp"

namespace aqua::p2p {
namespace {

// The IPv4 addresses of this host's interfaces, loopback last (for a 0.0.0.0 listener).
std::vector<std::string> interface_ips() {
  std::vector<std::string> out, loopback;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {"127.0.0.1"};
  for (ifaddrs* i = list; i != nullptr && out.size() + loopback.size() < 32; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    char ip[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, ip, sizeof ip);
    (std::string_view(ip).rfind("127.", 0) == 0 ? loopback : out).emplace_back(ip);
  }
  freeifaddrs(list);
  out.insert(out.end(), loopback.begin(), loopback.end());
  if (out.empty()) out.emplace_back("127.0.0.1");
  return out;
}

std::string ip_of(const std::string& remote) {
  auto a = parse_ip4_tcp(remote.substr(0, remote.find("/p2p-circuit")));
  return a ? a->first : std::string();
}

} // namespace

result<std::pair<std::string, std::uint16_t>> parse_ip4_tcp(const std::string& addr) {
  const auto bad = [&] { return error{errc::bad_address, "expected /ip4/A/tcp/P, got '" + addr + "'"}; };
  if (addr.rfind("/ip4/", 0) != 0) return bad();
  const auto tcp = addr.find("/tcp/", 5);
  if (tcp == std::string::npos) return bad();
  const std::string ip = addr.substr(5, tcp - 5);
  const std::string port = addr.substr(tcp + 5);
  in_addr probe{};
  if (inet_pton(AF_INET, ip.c_str(), &probe) != 1) return bad();
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return bad();
  const unsigned long p = std::stoul(port);
  if (p > 65535) return bad();
  return std::make_pair(ip, static_cast<std::uint16_t>(p));
}

relay_server::relay_server(const keypair& identity, std::shared_ptr<env> e, relay_server_config config)
    : key_(identity), self_(identity.id()), env_(std::move(e)), config_(std::move(config)), policy_(config_.hop) {
  tcp_host_callbacks cb;
  cb.on_established = [this](conn_id c, const peer_id& p, bool in) { on_established(c, p, in); };
  cb.on_event = [this](conn_id c, p2p_event& ev) { on_event(c, ev); };
  cb.on_closed = [this](conn_id c, const error& err) { on_closed(c, err); };
  host_ = std::make_unique<tcp_host>(identity, env_, host_config(), std::move(cb));
}

relay_server::~relay_server() {
  stop();
  // Handlers and services go while host_ still exists: a service may hold a
  // post() into this server (its post then fails, as the host is stopped).
  services_.clear();
  config_.services.clear();
}

tcp_host_config relay_server::host_config() {
  tcp_host_config hc;
  hc.p2p.protocols = {std::string(relay::hop_protocol_id)};  // + the services' (start())
  hc.p2p.agent_version = "aqua-relay/0.1";
  // Window credit only for bytes passed on: backpressure across a circuit.
  hc.p2p.yamux.window_update_on_delivery = false;
  hc.p2p.yamux.max_buffered_per_stream = config_.max_stream_buffer;
  hc.max_connections = config_.max_connections;
  hc.max_connections_per_ip = config_.max_connections_per_ip;
  hc.new_connections_per_ip_per_s = config_.new_connections_per_ip_per_s;
  hc.ping_interval_ms = config_.ping_interval_ms;
  hc.ping_timeout_ms = config_.ping_timeout_ms;
  return hc;
}

result<void> relay_server::start() {
  if (config_.listen.empty())
    return error{errc::invalid_argument, "relay: no listen address (relay.listen: [/ip4/0.0.0.0/tcp/4001])"};
  std::vector<std::pair<std::string, std::uint16_t>> binds;
  for (const auto& a : config_.listen) {
    auto p = parse_ip4_tcp(a);
    if (!p) return error{errc::bad_address, "relay: listen address: " + p.err().message()};
    binds.push_back(*p);
  }
  for (const auto& a : config_.announce)
    if (auto p = parse_ip4_tcp(a); !p) return error{errc::bad_address, "relay: announce address: " + p.err().message()};
  std::vector<std::string> protocols = {std::string(relay::hop_protocol_id)};
  for (const auto& svc : config_.services) protocols.push_back(svc.protocol);
  host_->set_protocols(std::move(protocols));
  if (auto r = host_->start(); !r) return r;
  for (std::size_t i = 0; i < binds.size(); ++i) {
    auto port = host_->call([&] { return host_->listen(binds[i].first, binds[i].second); });
    if (!port) {
      host_->stop();
      return error{port.err().code(), "relay: listen on " + config_.listen[i] + ": " + port.err().message()};
    }
    bound_.push_back("/ip4/" + binds[i].first + "/tcp/" + std::to_string(*port));
  }
  addrs_ = compute_addresses();
  host_->call([this] {
    std::vector<bytes> ident;
    for (const auto& a : addresses())  // without /p2p: identify's listenAddrs
      if (auto b = multiaddr_from_text(a.substr(0, a.find("/p2p/"))); b) ident.push_back(*b);
    host_->set_listen_addrs(std::move(ident));
    sweep_timer_ = host_->add_timer(config_.expire_interval_ms, [this] { sweep(); });
    for (auto& arm : pending_ticks_) arm();
    pending_ticks_.clear();
  });
  started_ = true;
  spdlog::info("relay: serving circuit relay v2 as {} on {}", self_.str(), bound_.front());
  return ok();
}

void relay_server::stop() { host_->stop(); }

void relay_server::every(std::int64_t interval_ms, std::function<void()> fn) {
  auto tick = std::make_shared<std::function<void()>>();
  const std::int64_t ms = std::max<std::int64_t>(1, interval_ms);
  *tick = [this, ms, fn = std::move(fn), weak = std::weak_ptr<std::function<void()>>(tick)] {
    fn();
    if (auto t = weak.lock()) host_->add_timer(ms, [t] { (*t)(); });
  };
  auto arm = [this, tick, ms] { host_->add_timer(ms, [tick] { (*tick)(); }); };
  if (!started_) {
    pending_ticks_.push_back(std::move(arm));  // armed by start()
    return;
  }
  (void) host_->post(std::move(arm));
}

std::vector<std::string> relay_server::addresses() const { return addrs_; }

std::vector<std::string> relay_server::compute_addresses() const {
  std::vector<std::string> out;
  const std::string suffix = "/p2p/" + self_.str();
  if (!config_.announce.empty()) {
    for (const auto& a : config_.announce) out.push_back(a + suffix);
    return out;
  }
  for (const auto& b : bound_) {
    if (b.rfind("/ip4/0.0.0.0/", 0) != 0) {
      out.push_back(b + suffix);
      continue;
    }
    const std::string port = b.substr(b.find("/tcp/"));
    for (const auto& ip : interface_ips()) out.push_back("/ip4/" + ip + port + suffix);
  }
  return out;
}

std::vector<bytes> relay_server::reservation_addrs() const {
  std::vector<bytes> out;
  for (const auto& a : addresses())
    if (auto b = multiaddr_from_text(a); b && out.size() < 8) out.push_back(std::move(*b));
  return out;
}

relay_server_stats relay_server::stats() {
  relay_server_stats s = host_->call([this] {
    relay_server_stats out = counters_;
    out.connections = conns_.size();
    out.hop = policy_.stats();
    return out;
  });
  s.addresses = addresses();
  return s;
}

void relay_server::sweep() {
  const auto now = env_->now_unix_ms();
  if (const auto n = policy_.expire(now); n > 0) spdlog::debug("relay: {} reservations expired", n);
  std::erase_if(reservation_conn_, [&](const auto& kv) { return !policy_.has_reservation(kv.first, now); });
  sweep_timer_ = host_->add_timer(config_.expire_interval_ms, [this] { sweep(); });
}

void relay_server::on_established(conn_id c, const peer_id& peer, bool inbound) {
  (void) inbound;
  peer_conn pc;
  pc.peer = peer;
  pc.ip = ip_of(host_->remote_address(c));
  pc.relayed = host_->parent_of(c).has_value();
  conns_[c] = std::move(pc);
}

void relay_server::on_closed(conn_id c, const error& e) {
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  const peer_id peer = it->second.peer;
  conns_.erase(it);
  if (auto r = reservation_conn_.find(peer); r != reservation_conn_.end() && r->second == c) {
    reservation_conn_.erase(r);
    policy_.peer_disconnected(peer);
    spdlog::debug("relay: reservation of {} dropped: {}", peer.str(), e.what());
  }
  for (auto h = hops_.lower_bound({c, 0}); h != hops_.end() && h->first.first == c;) {
    host_->cancel_timer(h->second.timer);
    h = hops_.erase(h);
  }
  std::vector<std::uint64_t> dead;
  for (const auto& [id, cc] : circuits_)
    if (cc.src.first == c || cc.dst.first == c) dead.push_back(id);
  for (auto id : dead) end_circuit(id, "connection closed: " + e.message(), true);
  std::vector<skey> svc;
  for (auto s = services_.lower_bound({c, 0}); s != services_.end() && s->first.first == c; ++s) svc.push_back(s->first);
  for (const auto& k : svc) drop_service(k, false);
}

void relay_server::on_event(conn_id c, p2p_event& ev) {
  const skey k{c, ev.stream_id};
  if (auto ci = circuit_of_.find(k); ci != circuit_of_.end()) {
    if (ev.kind == p2p_event_kind::stream_opened) on_stop_opened(ci->second);
    else on_circuit_event(ci->second, k, ev);
    return;
  }
  if (services_.count(k)) return on_service_event(k, ev);
  switch (ev.kind) {
    case p2p_event_kind::stream_opened: {
      auto pc = conns_.find(c);
      if (!ev.inbound || pc == conns_.end()) {
        (void) host_->reset_stream(c, ev.stream_id);
        return;
      }
      if (ev.protocol == relay::hop_protocol_id) {
        hop_stream& h = hops_[k];
        h.timer = host_->add_timer(config_.request_timeout_ms, [this, k] {
          if (hops_.erase(k) == 0) return;
          ++counters_.hop_refused;
          (void) host_->reset_stream(k.first, k.second);
        });
        return;
      }
      for (const auto& s : config_.services)
        if (s.protocol == ev.protocol) return open_service(k, s, pc->second);
      (void) host_->reset_stream(c, ev.stream_id);
      return;
    }
    case p2p_event_kind::stream_data:
      if (hops_.count(k)) on_hop_data(k, ev.data);
      else host_->consumed(c, ev.stream_id, ev.data.size());
      return;
    case p2p_event_kind::stream_closed:
    case p2p_event_kind::stream_reset:
      if (auto h = hops_.find(k); h != hops_.end()) {
        host_->cancel_timer(h->second.timer);
        hops_.erase(h);
        (void) host_->reset_stream(c, ev.stream_id);
      }
      return;
    default: return;
  }
}

void relay_server::on_hop_data(skey k, bytes_view data) {
  // HOP requests are small; bytes after a CONNECT (sent early) go to the circuit.
  host_->consumed(k.first, k.second, data.size());
  auto h = hops_.find(k);
  if (h == hops_.end()) return;
  h->second.reader.feed(data);
  auto m = h->second.reader.next();
  if (m && !*m) return;  // need more
  host_->cancel_timer(h->second.timer);
  bytes rest = h->second.reader.take_rest();
  hops_.erase(h);
  auto msg = m ? relay::decode_hop(**m) : result<relay::hop_message>(m.err());
  auto pc = conns_.find(k.first);
  if (pc == conns_.end()) return;
  if (!msg) return answer_hop(k, relay::status::malformed_message, msg.err().what());
  const peer_conn who = pc->second;
  switch (msg->type) {
    case relay::hop_message::kind::reserve: return on_reserve(k, who);
    case relay::hop_message::kind::connect: return on_connect(k, who, *msg, std::move(rest));
    default: return answer_hop(k, relay::status::unexpected_message, "STATUS on a fresh HOP stream");
  }
}

void relay_server::answer_hop(skey k, relay::status code, const std::string& why) {
  if (code != relay::status::ok) {
    ++counters_.hop_refused;
    spdlog::debug("relay: HOP stream {}/{}: {} ({})", k.first, k.second, relay::to_string(code), why);
  }
  (void) host_->write(k.first, k.second, relay::frame(relay::encode(relay::hop_status(code))).value());
  (void) host_->close_stream(k.first, k.second);
}

void relay_server::on_reserve(skey k, const peer_conn& pc) {
  const auto now = env_->now_unix_ms();
  auto g = policy_.reserve(pc.peer, pc.ip, now, pc.relayed);
  if (!g) {
    // The wire has no room for a reason: the operator learns it here (which limit, and its setting).
    warn_limited(refused_log_, now, "relay: {} ({}){}", g.reason(), relay::to_string(g.code()));
    return answer_hop(k, g.code(), g.reason());
  }
  reservation_conn_[pc.peer] = k.first;
  relay::reservation r;
  r.expire = g->expire_s;
  r.addrs = reservation_addrs();
  r.voucher = make_voucher(key_, pc.peer, g->expire_s);
  auto framed = relay::frame(relay::encode(relay::hop_status(relay::status::ok, g->limit, std::move(r))));
  if (!framed) return answer_hop(k, relay::status::resource_limit_exceeded, framed.err().what());
  spdlog::debug("relay: {} {} from {} until {}", g->refreshed ? "refreshed" : "reserved", pc.peer.str(), pc.ip,
                g->expire_s);
  (void) host_->write(k.first, k.second, *framed);
  (void) host_->close_stream(k.first, k.second);
}

} // namespace aqua::p2p
