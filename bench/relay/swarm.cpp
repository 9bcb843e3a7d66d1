// bench/relay: reservation_swarm (see swarm.hpp).
#include "swarm.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace aqua::bench {

using namespace aqua::p2p;

reservation_swarm::reservation_swarm(std::uint16_t port, peer_id relay, std::size_t window)
    : port_(port), relay_(std::move(relay)), window_(window), epfd_(::epoll_create1(EPOLL_CLOEXEC)) {}

reservation_swarm::~reservation_swarm() {
  close_all();
  if (epfd_ >= 0) ::close(epfd_);
}

void reservation_swarm::close_all() {
  for (auto& c : clients_) {
    if (c->fd >= 0) ::close(c->fd);
    c->fd = -1;
    c->dead = true;
  }
}

void reservation_swarm::fail(std::size_t i, const std::string& why) {
  client& c = *clients_[i];
  if (c.dead) return;
  c.dead = true;
  if (!c.reserved) --in_flight_;
  if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
  c.fd = -1;
  if (error_.empty()) error_ = "client " + std::to_string(i) + ": " + why;
}

result<void> reservation_swarm::start_one() {
  const std::size_t i = clients_.size();
  bytes seed(keypair::seed_size, 0x5a);
  for (std::size_t b = 0; b < 4; ++b) seed[b] = static_cast<std::uint8_t>(i >> (8 * b));
  auto key = keypair::from_seed(seed);
  if (!key) return key.err();
  clients_.push_back(std::make_unique<client>(std::move(*key)));
  client& c = *clients_.back();
  ++in_flight_;
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return error{errc::io_error, std::string("socket: ") + std::strerror(errno)};
  int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)
    return error{errc::connection_refused, std::string("connect: ") + std::strerror(errno)};
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = i;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) != 0)
    return error{errc::io_error, std::string("epoll_ctl: ") + std::strerror(errno)};
  c.p2p.emplace(p2p_connection::dialer(c.key, *env_, relay_));
  c.out = c.p2p->take_output();  // multistream /noise: sent once connected
  return ok();
}

void reservation_swarm::flush(std::size_t i) {
  client& c = *clients_[i];
  if (c.dead) return;
  bytes more = c.p2p->take_output();
  c.out.insert(c.out.end(), more.begin(), more.end());
  if (!c.connecting && !c.out.empty()) {
    const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return fail(i, std::string("send: ") + std::strerror(errno));
    if (n > 0) c.out.erase(c.out.begin(), c.out.begin() + n);
  }
  const bool want = c.connecting || !c.out.empty();
  if (want != c.want_out) {
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    ::epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = want;
  }
  if (c.out.empty()) c.out.shrink_to_fit();
}

void reservation_swarm::handle_events(std::size_t i) {
  client& c = *clients_[i];
  while (!c.dead) {
    auto ev = c.p2p->next_event();
    if (!ev) break;
    switch (ev->kind) {
      case p2p_event_kind::established: {
        auto s = c.p2p->open_stream({std::string(relay::hop_protocol_id)});
        if (!s) return fail(i, "open HOP stream: " + s.err().what());
        c.hop = *s;
        // Written before negotiation finishes: p2p_connection sends it after the protocol is agreed.
        if (auto w = c.p2p->write(c.hop, relay::frame(relay::encode(relay::hop_reserve())).value()); !w)
          return fail(i, "write RESERVE: " + w.err().what());
        break;
      }
      case p2p_event_kind::stream_data: {
        if (ev->stream_id != c.hop || c.reserved) break;
        c.reader.feed(ev->data);
        auto m = c.reader.next();
        if (!m) return fail(i, "HOP answer: " + m.err().what());
        if (!*m) break;
        auto msg = relay::decode_hop(**m);
        if (!msg) return fail(i, "HOP answer: " + msg.err().what());
        if (msg->type != relay::hop_message::kind::status || msg->status != relay::status::ok)
          return fail(i, "reservation refused: " + relay::to_string(msg->status.value_or(relay::status::unused)));
        c.reserved = true;
        ++reserved_;
        --in_flight_;
        (void) c.p2p->close_stream(c.hop);
        c.reader = relay::delimited_reader{};
        break;
      }
      case p2p_event_kind::stream_reset:
        if (ev->stream_id == c.hop && !c.reserved) return fail(i, "HOP stream reset: " + ev->reason);
        break;
      default:
        break;
    }
  }
}

void reservation_swarm::on_io(std::size_t i, std::uint32_t events) {
  client& c = *clients_[i];
  if (c.dead) return;
  if (c.connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(i, std::string("connect: ") + std::strerror(err));
    c.connecting = false;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    std::uint8_t buf[16384];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n == 0) return fail(i, c.reserved ? "connection closed by the relay after reserving" : "connection closed");
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        return fail(i, std::string("recv: ") + std::strerror(errno));
      }
      if (auto r = c.p2p->on_data(bytes_view(buf, static_cast<std::size_t>(n))); !r) {
        flush(i);
        return fail(i, r.err().what());
      }
      handle_events(i);
      if (c.dead) return;
    }
  }
  flush(i);
}

result<void> reservation_swarm::poll_once(int timeout_ms) {
  epoll_event evs[256];
  const int n = ::epoll_wait(epfd_, evs, 256, timeout_ms);
  if (n < 0 && errno != EINTR) return error{errc::io_error, std::string("epoll_wait: ") + std::strerror(errno)};
  for (int k = 0; k < n; ++k) on_io(static_cast<std::size_t>(evs[k].data.u64), evs[k].events);
  if (!error_.empty()) return error{errc::connection_refused, error_};
  return ok();
}

result<void> reservation_swarm::reserve_until(std::size_t target, clock::time_point until) {
  while (reserved_ < target) {
    while (clients_.size() < target && in_flight_ < window_)
      if (auto r = start_one(); !r) return error{r.err().code(), "client " + std::to_string(clients_.size() - 1) +
                                                                     ": " + r.err().message()};
    if (auto r = poll_once(50); !r) return r;
    if (clock::now() >= until)
      return error{errc::timeout, std::to_string(reserved_) + " of " + std::to_string(target) +
                                      " reservations before the deadline"};
  }
  return ok();
}

result<void> reservation_swarm::idle(std::int64_t ms) {
  const auto until = clock::now() + std::chrono::milliseconds(ms);
  while (clock::now() < until)
    if (auto r = poll_once(50); !r) return r;
  return ok();
}

} // namespace aqua::bench
