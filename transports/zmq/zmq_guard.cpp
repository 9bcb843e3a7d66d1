#include "zmq_guard.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace aqua::zmqt {

std::string limit_address(const std::string& ip) {
  unsigned char a[16];
  if (::inet_pton(AF_INET6, ip.c_str(), a) != 1) return ip;
  static constexpr unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char buf[INET6_ADDRSTRLEN] = {};
  if (std::memcmp(a, v4_mapped, sizeof v4_mapped) == 0)
    return ::inet_ntop(AF_INET, a + 12, buf, sizeof buf) ? std::string(buf) : ip;
  std::memset(a + 8, 0, 8);
  return ::inet_ntop(AF_INET6, a, buf, sizeof buf) ? std::string(buf) + "/64" : ip;
}

conn_guard::verdict conn_guard::accepted(int fd, const std::string& address, std::int64_t now_ms) {
  closed(fd);  // a missed disconnect of an earlier connection on this fd number
  if (conns_.size() >= lim_.max_connections) return verdict::over_total;
  auto& n = per_address_[address];
  if (n >= lim_.max_per_address) return verdict::over_address;
  // Connections closed since do not give tokens back: the bucket bounds the handshakes a second.
  if (!rate_.take(address, now_ms)) {
    if (n == 0) per_address_.erase(address);
    return verdict::over_rate;
  }
  ++n;
  conns_[fd] = entry{address, now_ms, false, false};
  return verdict::keep;
}

void conn_guard::closed(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  auto n = per_address_.find(it->second.address);
  if (n != per_address_.end() && --n->second == 0) per_address_.erase(n);
  conns_.erase(it);
}

void conn_guard::authenticated(int fd) {
  if (auto it = conns_.find(fd); it != conns_.end()) it->second.authenticated = true;
}

void conn_guard::unauthenticated(int fd, std::int64_t now_ms) {
  auto it = conns_.find(fd);
  if (it == conns_.end() || !it->second.authenticated) return;
  it->second.authenticated = false;
  it->second.since_ms = now_ms;
}

std::vector<int> conn_guard::overdue(std::int64_t now_ms) {
  std::vector<int> out;
  for (auto& [fd, e] : conns_)
    if (!e.authenticated && !e.closing && now_ms - e.since_ms >= lim_.handshake_timeout_ms) {
      e.closing = true;
      out.push_back(fd);
    }
  return out;
}

std::size_t conn_guard::open_from(const std::string& address) const {
  auto it = per_address_.find(address);
  return it == per_address_.end() ? 0 : it->second;
}

} // namespace aqua::zmqt
