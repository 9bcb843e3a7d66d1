// The zmq transport's I/O thread: owns every socket, runs the Noise
// handshakes, seals and opens frames (zmq_link.hpp), moves frames between
// sockets and the per-connection queues.

#include <spdlog/spdlog.h>

#include "zmq_transport.hpp"

namespace aqua::zmqt {
namespace {

bytes_view view(const zmq::message_t& m) { return {m.data<std::uint8_t>(), m.size()}; }

} // namespace

zmq_transport::sent zmq_transport::send_parts(zmq::socket_t& s, const std::string* rid, const parts& p) {
  // The first part decides: once ZeroMQ took it, the rest of the multipart
  // message is accepted too (messages are atomic).
  try {
    if (rid && !s.send(zmq::buffer(*rid), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return sent::would_block;
    for (std::size_t i = 0; i < p.size(); ++i) {
      auto flags = zmq::send_flags::dontwait | (i + 1 < p.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      if (!s.send(zmq::buffer(p[i]), flags) && i == 0 && !rid) return sent::would_block;
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return sent::unreachable;
    throw;
  }
  return sent::ok;
}

void zmq_transport::fail_link(link& l, const error& why) {
  peer_warn("zmq: connection {}: {}{}", l.conn->remote_address(), why.what());
  l.conn->mark_closed(why);
}

void zmq_transport::flush(zmq::socket_t& s, link& l, const std::string* rid) {
  // One attempt: false when ZeroMQ did not take the message (retried on a later turn).
  auto attempt = [&](const parts& p) {
    sent r = sent::ok;
    try {
      r = send_parts(s, rid, p);
    } catch (const zmq::error_t& e) {
      fail_link(l, error{errc::connection_closed, std::string("zmq send: ") + e.what()});
      return false;
    }
    if (r == sent::ok) {
      l.unreachable_since = 0;
      return true;
    }
    if (r == sent::unreachable) {
      auto now = steady_ms();
      if (l.unreachable_since == 0) l.unreachable_since = now;
      else if (now - l.unreachable_since > lim_.unreachable_grace_ms)
        fail_link(l, error{errc::connection_closed, "peer disconnected (unroutable for " +
                                                      std::to_string(now - l.unreachable_since) + " ms)"});
    }
    return false;
  };
  while (!l.control_out.empty()) {
    if (!attempt(l.control_out.front())) return;
    l.control_out.pop_front();
  }
  if (!l.established()) return;  // frames wait for the handshake
  bytes f;
  for (int n = 0; n < 1024; ++n) {  // bounded per turn, so one busy link cannot starve the others
    if (!l.sealed_pending) {
      if (!l.conn->next_outbound(f)) return;
      auto sealed = l.seal(f);  // the Noise nonce advances: this message is sent, never re-sealed
      if (!sealed) {
        fail_link(l, sealed.err());
        return;
      }
      l.sealed_pending = std::move(*sealed);
      l.conn->pop_outbound();
    }
    if (!attempt(*l.sealed_pending)) return;
    l.sealed_pending.reset();
  }
}

void zmq_transport::on_router_message(const std::shared_ptr<listener>& lp, const std::string& rid,
                                      std::vector<zmq::message_t>& msg) {
  auto& li = *lp;
  if (msg.empty() || msg[0].size() != 1) return;
  auto k = static_cast<kind>(*msg[0].data<std::uint8_t>());
  auto it = li.peers.find(rid);
  if (k == kind::handshake && msg.size() == 2) {
    if (it != li.peers.end() && it->second.established()) {  // a new session on the same pipe replaces the old
      it->second.conn->mark_closed(error{errc::connection_closed, "peer started a new session"});
      it = erase_peer(li, it);
      it = li.peers.end();
    }
    if (it == li.peers.end()) {
      int fd = -1;
      try {
        fd = msg[0].get(ZMQ_SRCFD);  // which TCP connection: its guard learns when a link is up
      } catch (const zmq::error_t&) {
      }
      // A connection the guard refused (over a limit, e.g. too many new ones a second from its address) gets no
      // handshake: its message 1 may be here before our shutdown(2) reached libzmq, and answering it would cost
      // the key pair, X25519s and signature the limit is there to bound.
      if (fd >= 0 && li.guard && !li.endpoints.count(fd)) read_monitor(li);  // its accept event may be queued
      if (fd >= 0 && li.guard && !li.endpoints.count(fd)) return;
      if (li.peers.size() >= lim_.max_peers && !evict_idle_peer(li)) {
        spdlog::warn("zmq: {} has {} connections (max_peers), none idle; refusing another", li.address,
                     li.peers.size());
        return;
      }
      std::weak_ptr<listener> weak = lp;
      auto c = std::make_shared<zconn>(lim_, li.address, "zmq-peer", [this] { wake(); },
                                       [this, weak, rid] { flush_now(weak, rid); });
      it = li.peers.emplace(rid, link{c, host_->new_session(false, std::nullopt), steady_ms(), 0, false, fd, std::nullopt, {}, 0, {}}).first;
    }
    auto& l = it->second;
    l.last_rx_ms = steady_ms();
    auto r = l.handshake_in(view(msg[1]));
    if (r) {
      auto out = l.handshake_out();
      if (!out) r = out.err();
      else if (*out) l.control_out.push_back(std::move(**out));
    }
    if (!r) {
      // Its TCP connection is closed too: a peer that could start handshakes over and over on one connection
      // (each costs us a key pair, two X25519 and a signature; it, 32 random bytes) must pay a new connection
      // for each, and max_connections_per_ip bounds how many it has at once.
      const int fd = l.fd;
      erase_peer(li, it);
      const bool cut = cut_connection(li, fd);
      peer_warn("zmq: handshake on {} failed: {}{}{}", li.address, r.err().what(), cut ? " (connection closed)" : "");
      return;
    }
    if (l.established() && !l.announced) {
      l.announced = true;
      if (!li.endpoints.count(l.fd)) read_monitor(li);  // its accept event may still be queued
      if (auto e = li.endpoints.find(l.fd); li.guard && e != li.endpoints.end()) {
        li.guard->authenticated(l.fd);
        l.tcp_peer = e->second;
      }
      if (auto obs = observer()) obs->on_incoming(l.conn);
    }
    return;
  }
  if (k == kind::data && msg.size() >= 2) {
    if (it == li.peers.end() || !it->second.established()) {
      // Unknown session (we restarted?): tell the dialler to redo it. Best
      // effort: with no link there is nothing to queue it on.
      send_parts(*li.sock, &rid, reset_message());
      return;
    }
    it->second.last_rx_ms = steady_ms();
    std::vector<bytes_view> chunks;
    for (std::size_t i = 1; i < msg.size(); ++i) chunks.push_back(view(msg[i]));
    auto frame = it->second.open(chunks, lim_.max_frame_bytes);
    if (!frame) {
      fail_link(it->second, frame.err());
      erase_peer(li, it);
      return;
    }
    it->second.conn->push_inbound(std::move(*frame));
    readable_.push_back(it->second.conn);
  }
}

bool zmq_transport::evict_idle_peer(listener& li) {
  // A ROUTER is not told when a peer's TCP connection closes: without this, peers that completed a handshake
  // and went away (or a flood of throwaway identities) would hold every slot for good. An evicted peer that is
  // still there gets a reset with its next frame and redoes the handshake (the dialler's side).
  const auto idle_ms = lim_.evict_idle_ms > 0 ? lim_.evict_idle_ms : 3 * lim_.handshake_timeout_ms;
  const auto now = steady_ms();
  auto oldest = li.peers.end();
  for (auto it = li.peers.begin(); it != li.peers.end(); ++it)
    if (it->second.established() && !it->second.waiting() &&
        (oldest == li.peers.end() || it->second.last_rx_ms < oldest->second.last_rx_ms))
      oldest = it;
  if (oldest == li.peers.end() || now - oldest->second.last_rx_ms < idle_ms) return false;
  spdlog::info("zmq: {} is full (max_peers {}); dropping {}, idle for {} ms", li.address, lim_.max_peers,
               oldest->second.conn->remote_peer().str(),
               now - oldest->second.last_rx_ms);
  oldest->second.conn->mark_closed(error{errc::connection_closed, "dropped: idle while the listener was full"});
  erase_peer(li, oldest);
  return true;
}

std::map<std::string, link>::iterator zmq_transport::erase_peer(listener& li, std::map<std::string, link>::iterator it) {
  // Only if the fd still is the link's connection (the number may have been reused since).
  if (auto e = li.endpoints.find(it->second.fd); li.guard && e != li.endpoints.end() && e->second == it->second.tcp_peer)
    li.guard->unauthenticated(it->second.fd, steady_ms());
  return li.peers.erase(it);
}

void zmq_transport::on_dealer_message(dealer& d, std::vector<zmq::message_t>& msg) {
  auto& l = d.l;
  if (msg.empty() || msg[0].size() != 1) return;
  auto k = static_cast<kind>(*msg[0].data<std::uint8_t>());
  if (k == kind::reset) {
    // Before our session is established a reset answers data of an earlier session (sent before the TCP connection
    // dropped and resent by ZeroMQ after it reconnected): the handshake under way replaces that session.
    if (!l.established()) return;
    fail_link(l, error{errc::connection_closed, "the peer has no session for this connection (it restarted?)"});
    return;
  }
  if (k == kind::handshake && msg.size() == 2 && !l.established()) {
    auto r = l.handshake_in(view(msg[1]));
    if (r) {
      auto out = l.handshake_out();  // Noise message 3
      if (!out) r = out.err();
      else if (*out) l.control_out.push_back(std::move(**out));
    }
    if (!r) fail_link(l, r.err());
    else if (l.established() && l.resuming) {
      l.resuming = false;
      spdlog::debug("zmq: connection {}: resumed with {}", l.conn->remote_address(), l.conn->remote_peer().str());
    }
    return;
  }
  // Data of the session that ended with the TCP connection, read only after the drop (it waited in ZeroMQ's queue,
  // e.g. while our reading was paused): that session is gone, so is the frame (its sender retries it).
  if (k == kind::data && l.resuming && !l.established()) return;
  if (k == kind::data && msg.size() >= 2 && l.established()) {
    std::vector<bytes_view> chunks;
    for (std::size_t i = 1; i < msg.size(); ++i) chunks.push_back(view(msg[i]));
    auto frame = l.open(chunks, lim_.max_frame_bytes);
    if (!frame) fail_link(l, frame.err());
    else {
      l.conn->push_inbound(std::move(*frame));
      readable_.push_back(l.conn);
    }
    return;
  }
  fail_link(l, error{errc::bad_frame, "unexpected zmq message kind " + std::to_string(static_cast<int>(k))});
}

void zmq_transport::housekeeping() {
  auto now = steady_ms();
  auto expired = [&](const link& l) {
    return !l.established() &&
           now - l.started_ms > (l.resuming ? lim_.resume_timeout_ms : lim_.handshake_timeout_ms);
  };
  for (auto it = dealers_.begin(); it != dealers_.end();) {
    auto& d = **it;
    std::unique_lock<std::mutex> g(d.m);
    if (expired(d.l) && d.l.conn->is_open())
      fail_link(d.l, error{errc::timeout, d.l.resuming ? "the TCP connection dropped and no new Noise handshake with " +
                                                           d.l.conn->remote_address() + " within " +
                                                           std::to_string(lim_.resume_timeout_ms) +
                                                           " ms (resume_timeout_ms)"
                                                       : "no Noise handshake with " + d.l.conn->remote_address() +
                                                           " within " + std::to_string(lim_.handshake_timeout_ms) +
                                                           " ms"});
    // Connections the node closed go away here, in the I/O thread.
    if (!d.l.conn->close_requested()) {
      ++it;
      continue;
    }
    close_monitor(d.sock.get(), d.monitor);
    d.sock.reset();  // a sender still holding the dealer finds no socket
    g.unlock();
    it = dealers_.erase(it);
  }
  for (auto& li : listeners_) {
    std::lock_guard<std::mutex> g(li->m);
    for (auto it = li->peers.begin(); it != li->peers.end();)
      it = (it->second.conn->close_requested() || expired(it->second)) ? erase_peer(*li, it) : std::next(it);
    read_monitor(*li);  // every event so far, so that close_overdue acts on an up-to-date view
    close_overdue(*li);
  }
}

void zmq_transport::notify_readable() {
  std::vector<std::shared_ptr<zconn>> ready;
  ready.swap(readable_);
  for (std::size_t i = 0; i < ready.size(); ++i)
    if (i == 0 || ready[i] != ready[i - 1]) ready[i]->notify_readable();
}

void zmq_transport::after_use(zmq::socket_t& s, const link& l) {
  bool input = false;
  try {
    input = (s.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0;
  } catch (const zmq::error_t&) {
    input = true;  // let the I/O thread find out
  }
  if (input || l.waiting()) wake();
}

void zmq_transport::flush_now(const std::weak_ptr<dealer>& weak) {
  auto d = weak.lock();
  if (!d) return;
  std::unique_lock<std::mutex> g(d->m, std::try_to_lock);
  if (!g) return wake();  // the I/O thread (or another sender) has the socket: it flushes on its next turn
  if (!d->sock) return;
  flush(*d->sock, d->l, nullptr);
  after_use(*d->sock, d->l);
}

void zmq_transport::flush_now(const std::weak_ptr<listener>& weak, const std::string& rid) {
  auto li = weak.lock();
  if (!li) return;
  std::unique_lock<std::mutex> g(li->m, std::try_to_lock);
  if (!g) return wake();
  auto it = li->peers.find(rid);
  if (!li->sock || it == li->peers.end()) return;
  flush(*li->sock, it->second, &rid);
  after_use(*li->sock, it->second);
}

void zmq_transport::loop() {
  const std::size_t max_parts = lim_.max_frame_bytes / (secure_session::max_message - 16) + 2;
  std::int64_t last_trace = 0;
  const bool trace = std::getenv("AQUA_ZMQ_TRACE") != nullptr;
  while (running_) {
    if (trace && steady_ms() - last_trace > 2000) {
      last_trace = steady_ms();
      auto show = [](const char* what, const link& l) {
        spdlog::warn("zmq trace {}: established={} control_out={} sealed_pending={} has_outbound={} inbound_full={}",
                     what, l.established(), l.control_out.size(), l.sealed_pending.has_value(),
                     l.conn->has_outbound(), l.conn->inbound_full());
      };
      for (auto& d : dealers_) {
        std::lock_guard<std::mutex> g(d->m);
        show("dealer", d->l);
      }
      for (auto& li : listeners_) {
        std::lock_guard<std::mutex> g(li->m);
        for (auto& [rid, l] : li->peers) show("router-peer", l);
      }
    }
    std::vector<std::function<void()>> cmds;
    {
      std::lock_guard<std::mutex> g(cmd_mutex_);
      cmds.swap(commands_);
    }
    for (auto& c : cmds) c();
    housekeeping();
    // One turn per socket under its mutex: read what arrived, then send what
    // is queued (handshake answers included). ZMQ_FD only signals new input
    // after a read ran dry, so a socket not read dry (turn limit) means
    // polling without waiting; a frame ZeroMQ did not take (high-water mark)
    // means retrying soon.
    bool again = false, backlog = false;
    std::vector<zmq::pollitem_t> items{{wake_pull_.handle(), 0, ZMQ_POLLIN, 0}};
    for (auto& lp : listeners_) {
      {
        std::lock_guard<std::mutex> g(lp->m);
        auto full = [&] {
          for (auto& [rid, l] : lp->peers)
            if (l.conn->inbound_full()) return true;
          return false;
        };
        const bool paused = full();
        if (!paused) again = drain_router(lp, max_parts) || again;
        check_meter(*lp, paused);
        for (auto& [rid, l] : lp->peers) {
          flush(*lp->sock, l, &rid);
          backlog = backlog || l.waiting();
        }
        items.push_back({nullptr, lp->fd, static_cast<short>(full() ? 0 : ZMQ_POLLIN), 0});
        if (lp->monitor) items.push_back({lp->monitor->handle(), 0, ZMQ_POLLIN, 0});
      }
      notify_readable();
    }
    for (auto& dp : dealers_) {
      {
        std::lock_guard<std::mutex> g(dp->m);
        read_monitor(*dp);
        again = drain(*dp, max_parts) || again;
        check_meter(*dp, dp->l.conn->inbound_full());
        flush(*dp->sock, dp->l, nullptr);
        backlog = backlog || dp->l.waiting();
        items.push_back({nullptr, dp->fd, static_cast<short>(dp->l.conn->inbound_full() ? 0 : ZMQ_POLLIN), 0});
      }
      notify_readable();
    }
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(again ? 0 : backlog ? 1 : 100));
    if (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t m;
      while (wake_pull_.recv(m, zmq::recv_flags::dontwait)) {
      }
    }
  }
}

} // namespace aqua::zmqt
