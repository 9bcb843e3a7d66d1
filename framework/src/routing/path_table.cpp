#include "routing/path_table.hpp"

#include <algorithm>

namespace aqua::routing {

std::string_view to_string(path_kind k) {
  switch (k) {
    case path_kind::direct: return "direct";
    case path_kind::relayed: return "relayed";
    case path_kind::mailbox: return "mailbox";
  }
  return "direct";
}

path_kind kind_of(const std::string& address) {
  return address.find("/p2p-circuit") != std::string::npos ? path_kind::relayed : path_kind::direct;
}

bool in_process(const std::string& address) { return address.rfind("/memory/", 0) == 0; }

path_choice path_table::choose(const std::string& peer, const std::vector<std::string>& addresses,
                               std::int64_t now_ms, bool can_relay) const {
  path_choice c;
  const peer_state* ps = nullptr;
  if (auto it = peers_.find(peer); it != peers_.end()) ps = &it->second;
  std::vector<std::string> waiting;
  std::size_t unusable = 0;
  for (auto kind : {path_kind::direct, path_kind::relayed})
    for (auto& a : addresses) {
      if (kind_of(a) != kind) continue;
      if (kind == path_kind::relayed && !can_relay) {
        ++unusable;
        continue;
      }
      if (kind == path_kind::relayed) c.mailbox.push_back(a);
      const addr_state* s = nullptr;
      if (ps)
        if (auto it = ps->addrs.find(a); it != ps->addrs.end()) s = &it->second;
      if (s && s->retry_at_ms > now_ms) waiting.push_back(a);
      else c.live.push_back(a);
    }
  if (addresses.empty()) c.why = "no address: no route in the config and none in its contact card";
  else if (!c.live.empty())
    c.why = std::string(to_string(kind_of(c.live.front()))) + " via " + c.live.front() +
            (waiting.empty() ? "" : " (" + std::to_string(waiting.size()) + " address(es) backing off after failures)");
  else if (!c.mailbox.empty())
    c.why = "every live path failed recently; deposit on the relay mailbox of " + c.mailbox.front();
  else if (unusable > 0)
    c.why = std::string(waiting.empty() ? "" : "its direct addresses failed recently; ") + std::to_string(unusable) +
            " relayed address(es), and this node has no relay_v2 transport to dial them or leave mail with their "
            "relay (add one: docs/relay.md)";
  else
    c.why = "every address failed recently and none names a relay (no mailbox); retrying later";
  return c;
}

void path_table::failed(const std::string& peer, const std::string& address, const std::string& why,
                        std::int64_t now_ms, std::int64_t min_backoff_ms) {
  auto& ps = peers_[peer];
  ps.touched_ms = now_ms;
  auto& s = ps.addrs[address];
  s.failures = std::min<std::uint32_t>(s.failures + 1, 32);
  auto delay = initial_backoff_ms;
  for (std::uint32_t i = 1; i < s.failures && delay < max_backoff_ms; ++i) delay *= 2;
  s.retry_at_ms = now_ms + std::min(std::max(delay, min_backoff_ms), max_backoff_ms);
  s.last_error = why.substr(0, 300);
  trim();
}

void path_table::worked(const std::string& peer, const std::string& address) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  it->second.addrs.erase(address);
}

void path_table::used(const std::string& peer, path_kind kind, const std::string& address, std::int64_t now_ms) {
  auto& ps = peers_[peer];
  ps.touched_ms = now_ms;
  ps.last = std::make_pair(kind, address);
  trim();
}

std::vector<address_report> path_table::report(const std::string& peer, const std::vector<std::string>& addresses) const {
  std::vector<address_report> out;
  auto it = peers_.find(peer);
  for (auto& a : addresses) {
    address_report r;
    r.address = a;
    r.kind = kind_of(a);
    if (it != peers_.end())
      if (auto s = it->second.addrs.find(a); s != it->second.addrs.end()) {
        r.failures = s->second.failures;
        r.retry_at_ms = s->second.retry_at_ms;
        r.last_error = s->second.last_error;
      }
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::pair<path_kind, std::string>> path_table::last_used(const std::string& peer) const {
  if (auto it = peers_.find(peer); it != peers_.end()) return it->second.last;
  return std::nullopt;
}

void path_table::trim() {
  while (peers_.size() > max_peers) {
    auto oldest = std::min_element(peers_.begin(), peers_.end(), [](auto& a, auto& b) {
      return a.second.touched_ms < b.second.touched_ms;
    });
    peers_.erase(oldest);
  }
}

} // namespace aqua::routing
