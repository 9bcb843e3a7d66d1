// tcp_host: connections — creation, event pumping, output, carried
// (stream-borne) connections, close. The loop and sockets are in tcp_host.cpp.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "p2p/multiaddr_bytes.hpp"
#include "p2p/tcp_host.hpp"

namespace aqua::p2p {
namespace {

error no_conn(conn_id id) { return error{errc::connection_closed, "tcp host: no connection " + std::to_string(id)}; }

void append(bytes& out, bytes_view in) {
  if (in.empty()) return;
  const std::size_t at = out.size();
  out.resize(at + in.size());
  std::memcpy(out.data() + at, in.data(), in.size());
}

} // namespace

conn_id tcp_host::add_conn(conn c, bool as_dialer, const dial_options& opts, bytes observed) {
  p2p_config pc = config_.p2p;
  pc.observed_addr = std::move(observed);
  pc.identify_on_connect = opts.identify;
  if (pc.listen_addrs.empty())
    for (auto port : listen_ports_)
      if (auto a = multiaddr_from_text("/ip4/127.0.0.1/tcp/" + std::to_string(port)); a) pc.listen_addrs.push_back(*a);
  c.p2p.emplace(as_dialer ? p2p_connection::dialer(sessions_, self_, *env_, opts.expected, std::move(pc))
                          : p2p_connection::listener(sessions_, self_, *env_, std::move(pc)));
  const conn_id id = next_conn_++;
  if (c.fd >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN | (c.connecting ? EPOLLOUT : 0u);
    ev.data.u64 = id;
    c.want_out = c.connecting;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev);
  }
  c.handshake_timer = add_timer(config_.handshake_timeout_ms, [this, id] {
    auto it = conns_.find(id);
    if (it != conns_.end() && !it->second.established)
      close(id, error{errc::timeout, "tcp host: handshake with " + it->second.remote + " timed out"});
  });
  conns_.emplace(id, std::move(c));
  flush(id);
  return id;
}

result<conn_id> tcp_host::adopt_stream(conn_id parent, std::uint32_t stream, bool as_dialer, dial_options opts,
                                       bytes initial) {
  auto it = conns_.find(parent);
  if (it == conns_.end() || !it->second.established) return no_conn(parent);
  if (conns_.size() >= config_.max_connections)
    return error{errc::would_block, "tcp host: " + std::to_string(conns_.size()) + " connections"};
  conn c;
  c.parent = parent;
  c.parent_stream = stream;
  c.inbound = !as_dialer;
  c.remote = it->second.remote + "/p2p-circuit";
  const conn_id id = add_conn(std::move(c), as_dialer, opts, {});
  auto pit = conns_.find(parent);
  if (pit == conns_.end()) return no_conn(parent);
  pit->second.carried[stream] = id;
  if (!initial.empty()) {
    auto cit = conns_.find(id);
    if (cit == conns_.end()) return no_conn(id);
    if (auto r = cit->second.p2p->on_data(initial); !r) {
      flush(id);
      close(id, r.err());
      return r.err();
    }
    pump(id);
  }
  return id;
}

void tcp_host::arm_keepalive(conn_id id) {
  auto it = conns_.find(id);
  if (it == conns_.end() || !it->second.alive) return;
  const std::int64_t due = it->second.alive->next_due_ms();
  if (due < 0) return;  // no pings, no timeout
  it->second.keepalive_timer = add_timer(due - mono_ms(), [this, id] { on_keepalive(id); });
}

void tcp_host::on_keepalive(conn_id id) {
  auto it = conns_.find(id);
  if (it == conns_.end() || !it->second.alive) return;
  conn& c = it->second;
  const std::int64_t now = mono_ms();
  switch (c.alive->on_timer(now)) {
    case keepalive::action::close: {
      if (unread(c)) {  // our loop was busy, not the peer silent: its bytes wait in the socket
        c.alive->received(now);
        break;
      }
      const std::int64_t silent = c.alive->silent_ms(now);
      ++silent_closed_;
      // One line per second at most: a relay may lose many connections at once (an attacker's, or a network's).
      if (log_due(silence_logged_ms_))
        spdlog::info("tcp host: closing {}: nothing received for {} ms (ping_timeout_ms {}; {} closed so in all)",
                     c.remote, silent, config_.ping_timeout_ms, silent_closed_);
      close(id, error{errc::timeout, "tcp host: no answer to ping for " + std::to_string(silent) + " ms from " +
                                         c.remote + " (nothing received; ping_timeout_ms " +
                                         std::to_string(config_.ping_timeout_ms) + ")"});
      return;
    }
    case keepalive::action::ping:
      (void) c.p2p->ping();
      flush(id);  // may close the connection (arm_keepalive then does nothing)
      break;
    case keepalive::action::none: break;
  }
  arm_keepalive(id);
}

bool tcp_host::unread(const conn& c) const {
  if (c.fd < 0) {
    auto pit = conns_.find(c.parent);
    return c.parent != 0 && pit != conns_.end() && unread(pit->second);
  }
  std::uint8_t b = 0;
  return ::recv(c.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

void tcp_host::pump(conn_id id) {
  for (std::size_t guard = 0; guard < (std::size_t{1} << 16); ++guard) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    auto ev = it->second.p2p->next_event();
    if (!ev) break;
    conn& c = it->second;
    const bool stream_event = ev->kind == p2p_event_kind::stream_data || ev->kind == p2p_event_kind::stream_closed ||
                              ev->kind == p2p_event_kind::stream_reset || ev->kind == p2p_event_kind::writable;
    if (ev->kind == p2p_event_kind::established) {
      c.established = true;
      cancel_timer(c.handshake_timer);
      c.alive.emplace(keepalive_config{config_.ping_interval_ms, config_.ping_timeout_ms}, mono_ms());
      arm_keepalive(id);
      if (cb_.on_established) cb_.on_established(id, ev->peer, c.inbound);
    } else if (auto ch = c.carried.find(ev->stream_id); stream_event && ch != c.carried.end()) {
      const conn_id child = ch->second;
      if (ev->kind == p2p_event_kind::stream_closed || ev->kind == p2p_event_kind::stream_reset) c.carried.erase(ch);
      route_to_child(child, *ev);
    } else if (cb_.on_event) {
      cb_.on_event(id, *ev);
    }
  }
  flush(id);
}

void tcp_host::route_to_child(conn_id child, p2p_event& ev) {
  auto it = conns_.find(child);
  if (it == conns_.end()) return;
  switch (ev.kind) {
    case p2p_event_kind::stream_data:
      if (it->second.alive) it->second.alive->received(mono_ms());
      if (auto pit = conns_.find(it->second.parent); it->second.parent != 0 && pit != conns_.end())
        pit->second.p2p->consumed(it->second.parent_stream, ev.data.size());  // flushed by the parent's pump
      if (auto r = it->second.p2p->on_data(ev.data); !r) {
        flush(child);
        close(child, r.err());
        return;
      }
      pump(child);
      break;
    case p2p_event_kind::stream_closed:
    case p2p_event_kind::stream_reset:
      it->second.parent = 0;  // the carrier stream is gone
      close(child, error{errc::connection_closed, "relayed stream " + std::string(ev.kind == p2p_event_kind::stream_reset ? "reset" : "closed")});
      break;
    case p2p_event_kind::writable: flush(child); break;
    default: break;
  }
}

void tcp_host::flush(conn_id id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  conn& c = it->second;
  if (c.out_pos == c.out.size()) {
    c.out.clear();
    c.out_pos = 0;
  }
  append(c.out, c.p2p->take_output());
  if (c.fd < 0) {
    auto pit = conns_.find(c.parent);
    if (c.parent == 0 || pit == conns_.end()) {
      close(id, error{errc::connection_closed, "relay connection gone"});
      return;
    }
    if (c.out.size() > c.out_pos) {
      auto n = pit->second.p2p->write(c.parent_stream, bytes_view(c.out).subspan(c.out_pos));
      if (!n) {
        close(id, n.err());
        return;
      }
      c.out_pos += *n;
    }
    if (c.out.size() - c.out_pos > config_.max_output_buffer) {
      close(id, error{errc::would_block, "relayed connection: output above the bound"});
      return;
    }
    flush(c.parent);
    return;
  }
  if (!c.connecting) {
    for (int i = 0; i < 64 && c.out_pos < c.out.size(); ++i) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        close(id, error{errc::connection_closed, "write to " + c.remote + ": " + std::strerror(errno)});
        return;
      }
      c.out_pos += static_cast<std::size_t>(n);
    }
  }
  update_interest(id, c);
}

void tcp_host::close(conn_id id, const error& reason) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  conn c = std::move(it->second);
  conns_.erase(it);
  cancel_timer(c.handshake_timer);
  cancel_timer(c.keepalive_timer);
  if (c.p2p) append(c.out, c.p2p->take_output());
  if (c.ip)
    if (auto ip = per_ip_.find(*c.ip); ip != per_ip_.end() && --ip->second == 0) per_ip_.erase(ip);
  if (c.fd >= 0) {
    if (!c.connecting && c.out_pos < c.out.size())  // best effort: last bytes (e.g. a GoAway)
      (void) !::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL | MSG_DONTWAIT);
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
  } else if (auto pit = conns_.find(c.parent); c.parent != 0 && pit != conns_.end()) {
    pit->second.carried.erase(c.parent_stream);
    if (c.out_pos < c.out.size()) (void) pit->second.p2p->write(c.parent_stream, bytes_view(c.out).subspan(c.out_pos));
    (void) pit->second.p2p->close_stream(c.parent_stream);
    flush(c.parent);
  }
  spdlog::debug("tcp host: connection {} ({}) closed: {}", id, c.remote, reason.what());
  const std::size_t bound = c.carried.size();
  for (std::size_t i = 0; i < bound && !c.carried.empty(); ++i) {
    const conn_id child = c.carried.begin()->second;
    c.carried.erase(c.carried.begin());
    if (auto ch = conns_.find(child); ch != conns_.end()) ch->second.parent = 0;
    close(child, error{errc::connection_closed, "relay connection closed: " + reason.message()});
  }
  if (cb_.on_closed) cb_.on_closed(id, reason);
}

p2p_connection* tcp_host::connection(conn_id c) {
  auto it = conns_.find(c);
  return it == conns_.end() ? nullptr : &*it->second.p2p;
}

result<std::uint32_t> tcp_host::open_stream(conn_id c, std::vector<std::string> protocols) {
  auto* p = connection(c);
  if (!p) return no_conn(c);
  auto r = p->open_stream(std::move(protocols));
  flush(c);
  return r;
}

result<std::size_t> tcp_host::write(conn_id c, std::uint32_t stream, bytes_view data) {
  auto* p = connection(c);
  if (!p) return no_conn(c);
  auto r = p->write(stream, data);
  flush(c);
  return r;
}

result<void> tcp_host::close_stream(conn_id c, std::uint32_t stream) {
  auto* p = connection(c);
  if (!p) return no_conn(c);
  auto r = p->close_stream(stream);
  flush(c);
  return r;
}

result<void> tcp_host::reset_stream(conn_id c, std::uint32_t stream) {
  auto* p = connection(c);
  if (!p) return no_conn(c);
  auto r = p->reset_stream(stream);
  flush(c);
  return r;
}

void tcp_host::consumed(conn_id c, std::uint32_t stream, std::size_t n) {
  auto* p = connection(c);
  if (!p) return;
  p->consumed(stream, n);
  flush(c);
}

std::string tcp_host::remote_address(conn_id c) const {
  auto it = conns_.find(c);
  return it == conns_.end() ? std::string() : it->second.remote;
}

std::optional<conn_id> tcp_host::parent_of(conn_id c) const {
  auto it = conns_.find(c);
  if (it == conns_.end() || it->second.fd >= 0) return std::nullopt;
  return it->second.parent;
}

} // namespace aqua::p2p
