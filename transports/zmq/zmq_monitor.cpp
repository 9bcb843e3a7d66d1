// The zmq listener's connection guard, its I/O side: libzmq's socket monitor
// tells the I/O thread about each accepted and each ended TCP connection of
// a ROUTER; conn_guard (zmq_guard.hpp) decides which to refuse or close, and
// this file closes them with shutdown(2). libzmq owns the fds: shutdown ends
// the connection without closing the descriptor, so libzmq sees the end,
// reports it and closes the fd itself. Before shutting an fd down the I/O
// thread checks that it still is that connection (local port and peer
// address:port), as libzmq may have closed it and the number been reused
// between the event and now.

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "zmq_transport.hpp"

namespace aqua::zmqt {
namespace {

// The IP address and the port of a socket address (IPv4 or IPv6).
bool split(const sockaddr_storage& sa, std::string& ip, std::uint16_t& port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa.ss_family == AF_INET) {
    auto& a = reinterpret_cast<const sockaddr_in&>(sa);
    if (!inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf)) return false;
    port = ntohs(a.sin_port);
  } else if (sa.ss_family == AF_INET6) {
    auto& a = reinterpret_cast<const sockaddr_in6&>(sa);
    if (!inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof buf)) return false;
    port = ntohs(a.sin6_port);
  } else {
    return false;
  }
  ip = buf;
  return true;
}

// `fd`'s local port and its peer's "ip port"; false if it is not a connected socket.
bool describe(int fd, std::uint16_t& local_port, std::string& peer_ip, std::string& peer_endpoint) {
  sockaddr_storage local{}, peer{};
  socklen_t ll = sizeof local, pl = sizeof peer;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0) return false;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) return false;
  std::string local_ip;
  std::uint16_t peer_port = 0;
  if (!split(local, local_ip, local_port) || !split(peer, peer_ip, peer_port)) return false;
  peer_endpoint = peer_ip + " " + std::to_string(peer_port);
  return true;
}

// Bytes libzmq has read from TCP socket `fd`: received in order minus still unread in the kernel.
std::optional<std::uint64_t> bytes_read_from(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof(tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received)
    return std::nullopt;
  int unread = 0;
  if (::ioctl(fd, SIOCINQ, &unread) != 0 || unread < 0) return std::nullopt;
  const auto received = static_cast<std::uint64_t>(info.tcpi_bytes_received);
  return received >= static_cast<std::uint64_t>(unread) ? received - static_cast<std::uint64_t>(unread) : 0;
}

std::size_t open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
  return static_cast<std::size_t>(rl.rlim_cur);
}

struct monitor_event {
  std::uint16_t id = 0;
  int fd = -1;
};

// The events a socket monitor has queued (at most 4096 per call).
std::vector<monitor_event> take_events(zmq::socket_t& monitor) {
  std::vector<monitor_event> out;
  for (int n = 0; n < 4096; ++n) {
    zmq::message_t ev, addr;
    if (!monitor.recv(ev, zmq::recv_flags::dontwait)) break;
    if (ev.more()) (void)monitor.recv(addr, zmq::recv_flags::dontwait);  // the endpoint: monitor messages arrive whole
    if (ev.size() < 6) continue;
    monitor_event e;
    std::uint32_t value = 0;
    std::memcpy(&e.id, ev.data(), 2);
    std::memcpy(&value, ev.data<char>() + 2, 4);
    e.fd = static_cast<int>(value);
    out.push_back(e);
  }
  return out;
}

// A PAIR socket that receives libzmq's `events` about `sock`'s TCP connections (an inproc endpoint per socket).
result<std::unique_ptr<zmq::socket_t>> attach_monitor(zmq::context_t& ctx, zmq::socket_t& sock, int events,
                                                      const std::string& name) {
  const auto ep = inproc_endpoint("monitor");
  if (zmq_socket_monitor(sock.handle(), ep.c_str(), events) != 0)
    return error{errc::io_error, "zmq: cannot monitor " + name + ": " + zmq_strerror(zmq_errno())};
  auto m = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::pair);
  m->set(zmq::sockopt::linger, 0);
  m->connect(ep);
  return m;
}

// Reading: reading_allowance(). Paused: the high-water mark's worth of whole messages as well. All connections of
// the socket together: max_held_bytes.
std::unique_ptr<byte_meter> make_meter(const limits& lim) {
  const std::uint64_t message = message_wire_bytes(lim);
  return std::make_unique<byte_meter>(reading_allowance(lim), std::uint64_t(lim.hwm + 2) * message,
                                      lim.max_held_bytes);
}

// Whether `fd` still is the connection recorded with peer `endpoint` ("ip port") and, unless `port` is 0, that
// local port: libzmq may have closed it and the number been reused since (then its disconnect is on the way).
bool still_connection(int fd, std::uint16_t port, const std::string& endpoint) {
  std::uint16_t local = 0;
  std::string ip, current;
  return describe(fd, local, ip, current) && (port == 0 || local == port) && current == endpoint;
}

// A metering pass over a socket's TCP connections, at most every meter_interval_ms (`metered_ms`: the last):
// shuts down those the meter strikes out that still are those connections.
void meter_pass(byte_meter& meter, std::int64_t& metered_ms, const std::unordered_map<int, std::string>& endpoints,
                std::uint16_t port, bool paused, const std::string& socket_name) {
  const auto now = steady_ms();
  if (now - metered_ms < meter_interval_ms) return;
  metered_ms = now;
  std::vector<byte_meter::sample> samples;
  for (const auto& [fd, endpoint] : endpoints)
    if (auto read = bytes_read_from(fd)) samples.push_back({fd, *read});
  for (const auto& v : meter.check(samples, paused)) {
    const auto& endpoint = endpoints.at(v.fd);
    if (!still_connection(v.fd, port, endpoint)) continue;
    if (v.held > meter.allowance(paused))
      spdlog::warn("zmq: {}: closing the connection with {}: libzmq holds {} bytes of it beyond whole messages "
                   "(more than {}: a message that never ends?)", socket_name, endpoint, v.held,
                   meter.allowance(paused));
    else
      spdlog::warn("zmq: {}: closing the connection with {}: libzmq holds {} bytes of it beyond whole messages "
                   "taken and {} of all this socket's connections (more than max_held_bytes {})",
                   socket_name, endpoint, v.held, v.socket_held, meter.total());
    meter.closed(v.fd);  // once: its disconnect follows
    ::shutdown(v.fd, SHUT_RDWR);
  }
}

} // namespace

result<void> zmq_transport::open_monitor(listener& li) {
  conn_guard::limits gl;
  gl.max_connections = lim_.max_connections;
  gl.max_per_address = lim_.max_connections_per_ip;
  gl.handshake_timeout_ms = lim_.handshake_timeout_ms;
  gl.new_per_address_per_s = lim_.new_connections_per_ip_per_s;
  // The node needs descriptors besides this listener's (its store, the control API, dialled peers): a listener
  // may hold at most half of them.
  const auto files = open_file_limit();
  if (files != SIZE_MAX && gl.max_connections > std::max<std::size_t>(files / 2, 16)) {
    gl.max_connections = std::max<std::size_t>(files / 2, 16);
    spdlog::info("zmq: {} takes at most {} connections (max_connections {}; half the open-file limit {})",
                 li.address, gl.max_connections, lim_.max_connections, files);
  }
  li.guard = std::make_unique<conn_guard>(gl);
  li.meter = make_meter(lim_);
  auto last = li.sock->get(zmq::sockopt::last_endpoint);
  li.port = static_cast<std::uint16_t>(std::stoul(last.substr(last.rfind(':') + 1)));
  auto m = attach_monitor(ctx_, *li.sock, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED, li.address);
  if (!m) return m.err();
  li.monitor = std::move(*m);
  return ok();
}

void zmq_transport::read_monitor(listener& li) {
  if (!li.monitor) return;
  const auto now = steady_ms();
  for (const auto [id, fd] : take_events(*li.monitor)) {
    if (id == ZMQ_EVENT_DISCONNECTED) {
      li.guard->closed(fd);
      li.meter->closed(fd);
      li.endpoints.erase(fd);
      continue;
    }
    if (id != ZMQ_EVENT_ACCEPTED) continue;
    std::uint16_t port = 0;
    std::string ip, endpoint;
    // Already gone (its disconnect follows), or the number reused by something else: nothing to track.
    if (!describe(fd, port, ip, endpoint) || port != li.port) continue;
    const auto group = limit_address(ip);  // an IPv6 peer counts under its /64
    const auto v = li.guard->accepted(fd, group, now);
    if (v == conn_guard::verdict::keep) {
      li.endpoints[fd] = endpoint;
      li.meter->opened(fd);
      continue;
    }
    ::shutdown(fd, SHUT_RDWR);
    ++li.refused;
    if (now - li.refused_logged_ms >= 1000) {
      spdlog::warn("zmq: {} refused {} connection(s) (last from {}{}): {} open, {} from that address (an IPv6 one: its /64) "
                   "(max_connections {}, max_connections_per_ip {}, new_connections_per_ip_per_s {})",
                   li.address, li.refused, ip, v == conn_guard::verdict::over_rate ? ", too many new ones a second" : "",
                   li.guard->open(), li.guard->open_from(group), li.guard->settings().max_connections,
                   li.guard->settings().max_per_address, li.guard->settings().new_per_address_per_s);
      li.refused = 0;
      li.refused_logged_ms = now;
    }
  }
}

bool zmq_transport::cut_connection(listener& li, int fd) {
  auto known = li.endpoints.find(fd);
  if (fd < 0 || known == li.endpoints.end() || !still_connection(fd, li.port, known->second)) return false;
  ::shutdown(fd, SHUT_RDWR);
  return true;
}

void zmq_transport::close_overdue(listener& li) {
  if (!li.guard) return;
  for (int fd : li.guard->overdue(steady_ms()))
    if (cut_connection(li, fd))
      spdlog::debug("zmq: {}: closed a connection: no Noise handshake within {} ms", li.address,
                    lim_.handshake_timeout_ms);
}

void zmq_transport::check_meter(listener& li, bool paused) {
  if (li.meter) meter_pass(*li.meter, li.metered_ms, li.endpoints, li.port, paused, li.address);
}

result<void> zmq_transport::open_monitor(dealer& d, zmq::socket_t& sock, const std::string& address) {
  d.meter = make_meter(lim_);
  auto m = attach_monitor(ctx_, sock, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED, address);
  if (!m) return m.err();
  d.monitor = std::move(*m);
  return ok();
}

void zmq_transport::read_monitor(dealer& d) {
  if (!d.monitor) return;
  for (const auto [id, fd] : take_events(*d.monitor)) {
    d.meter->closed(fd);  // connected: a missed disconnect of an earlier connection on this fd number
    d.endpoints.erase(fd);
    if (id == ZMQ_EVENT_DISCONNECTED && d.l.conn->is_open()) {
      // An established link (or one resuming): a new handshake, sent once ZeroMQ has reconnected.
      if (d.l.established() || d.l.resuming) resume(d);
      // Ended before the first handshake finished: the listener refused it at accept (over one of its limits, e.g.
      // new_connections_per_ip_per_s) or failed the handshake. Our message 1 went with the connection and
      // ZeroMQ's reconnect would not send it again: fail now, not at the handshake timeout, so that routing redials.
      else
        fail_link(d.l, error{errc::connection_closed, "the listener ended the connection during the Noise handshake "
                                                      "(refused at accept, e.g. over a connection limit, or the "
                                                      "handshake failed there)"});
    }
    if (id != ZMQ_EVENT_CONNECTED) continue;
    std::uint16_t port = 0;
    std::string ip, endpoint;
    if (!describe(fd, port, ip, endpoint)) continue;  // already gone: its disconnect follows
    d.endpoints[fd] = endpoint;
    d.meter->opened(fd);
  }
}

void zmq_transport::resume(dealer& d) {
  // The listener never carries a session over to a new TCP connection (its ROUTER gives the reconnected socket a
  // new routing id; a restarted peer has no session at all), so the old session is over either way. Without a new
  // handshake nothing would be sent on the reconnected socket until the node had a frame for the peer, and a peer
  // that cannot dial us (we have no address of our own) could not answer what it owes us.
  auto& l = d.l;
  const auto now = steady_ms();
  if (!l.resuming) {
    l.started_ms = now;  // resume_timeout_ms bounds the whole resumption, from the drop
    spdlog::debug("zmq: connection {}: the TCP connection ended; redoing the Noise handshake with {} when ZeroMQ "
                 "has reconnected", l.conn->remote_address(), l.conn->remote_peer().str());
  }
  l.resuming = true;
  l.session = host_->new_session(true, l.conn->remote_peer());  // the same identity, or the link fails
  l.sealed_pending.reset();  // sealed for the old session: lost, like what ZeroMQ had not written (resent above us)
  l.control_out.clear();
  l.unreachable_since = 0;
  auto first = l.handshake_out();
  if (!first || !*first) return fail_link(l, error{errc::crypto_failure, "cannot restart the Noise handshake"});
  l.control_out.push_back(std::move(**first));
}

void zmq_transport::check_meter(dealer& d, bool paused) {
  if (d.meter) meter_pass(*d.meter, d.metered_ms, d.endpoints, 0, paused, d.l.conn->remote_address());
}

// ZeroMQ closes a listening TCP socket in its I/O thread some time after the ZeroMQ socket is closed. With a context
// per transport, terminating the context waited for that; in the process's shared context (zmq_transport.cpp) a
// listener started again in the same process (a node restarted in place) found its port still taken. So a listener
// is unbound first and its monitor's CLOSED event for the listening socket awaited.
void zmq_transport::release_port(listener& li) {
  if (!li.sock || !li.monitor) return;
  std::string ep;
  try {
    ep = li.sock->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t&) {
    return;
  }
  if (ep.empty() || zmq_unbind(li.sock->handle(), ep.c_str()) != 0) return;
  const auto deadline = steady_ms() + 2000;
  while (steady_ms() < deadline) {
    zmq_pollitem_t item{li.monitor->handle(), 0, ZMQ_POLLIN, 0};
    (void) zmq_poll(&item, 1, 20);
    for (const auto [id, fd] : take_events(*li.monitor))
      if (id == ZMQ_EVENT_CLOSED && !li.endpoints.count(fd)) return;  // the listening socket, not a connection
  }
  spdlog::warn("zmq: {}: the listening socket was not closed within 2 s of unbinding", li.address);
}

void zmq_transport::close_monitor(zmq::socket_t* sock, std::unique_ptr<zmq::socket_t>& monitor) {
  if (!monitor) return;
  if (sock) zmq_socket_monitor(sock->handle(), nullptr, 0);
  monitor.reset();
}

} // namespace aqua::zmqt
