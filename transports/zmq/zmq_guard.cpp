#include "zmq_guard.hpp"

#include <algorithm>
#include <iterator>

namespace aqua::zmqt {

conn_guard::verdict conn_guard::accepted(int fd, const std::string& address, std::int64_t now_ms) {
  closed(fd);  // a missed disconnect of an earlier connection on this fd number
  sweep(now_ms);
  if (conns_.size() >= lim_.max_connections) return verdict::over_total;
  auto [it, fresh] = per_address_.try_emplace(address);
  auto& a = it->second;
  if (fresh) {
    a.tokens = static_cast<double>(lim_.new_per_address_per_s);
    a.refilled_ms = now_ms;
  }
  if (a.open >= lim_.max_per_address) return verdict::over_address;
  if (lim_.new_per_address_per_s > 0) {
    refill(a, now_ms);
    if (a.tokens < 1) return verdict::over_rate;
    a.tokens -= 1;
  }
  ++a.open;
  conns_[fd] = entry{address, now_ms, false, false};
  return verdict::keep;
}

bool conn_guard::refill(address_state& a, std::int64_t now_ms) const {
  const double cap = static_cast<double>(lim_.new_per_address_per_s);
  if (now_ms > a.refilled_ms) {
    a.tokens = std::min(cap, a.tokens + cap * static_cast<double>(now_ms - a.refilled_ms) / 1000.0);
    a.refilled_ms = now_ms;
  }
  return a.tokens >= cap;
}

void conn_guard::sweep(std::int64_t now_ms) {
  if (now_ms - swept_ms_ < 1000) return;
  swept_ms_ = now_ms;
  for (auto it = per_address_.begin(); it != per_address_.end();)
    it = it->second.open == 0 && (lim_.new_per_address_per_s == 0 || refill(it->second, now_ms)) ? per_address_.erase(it)
                                                                                                   : std::next(it);
}

void conn_guard::closed(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  // The address stays tracked while its bucket refills (sweep), so closing connections does not reset its rate.
  if (auto a = per_address_.find(it->second.address); a != per_address_.end() && a->second.open > 0) --a->second.open;
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
  return it == per_address_.end() ? 0 : it->second.open;
}

} // namespace aqua::zmqt
