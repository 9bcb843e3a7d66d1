#include "p2p/hop_policy.hpp"

namespace aqua::p2p::relay {

hop_policy::hop_policy(hop_config config) : config_(config) {}

std::optional<relay::limit> hop_policy::wire_limit() const {
  if (!config_.limited) return std::nullopt;
  return relay::limit{config_.limit_duration_s, config_.limit_data};
}

void hop_policy::drop(std::map<peer_id, rsvp>::iterator it) {
  auto ip = per_ip_.find(it->second.ip);
  if (ip != per_ip_.end() && --ip->second == 0) per_ip_.erase(ip);
  reservations_.erase(it);
}

std::size_t hop_policy::expire(std::int64_t now_ms) {
  std::size_t dropped = 0;
  for (auto it = reservations_.begin(); it != reservations_.end();) {
    auto next = std::next(it);
    if (it->second.expire_ms <= now_ms) {
      drop(it);
      ++dropped;
    }
    it = next;
  }
  stats_.reservations_expired += dropped;
  for (auto it = connect_windows_.begin(); it != connect_windows_.end();) {
    if (now_ms - it->second.start_ms >= config_.connect_window_ms)
      it = connect_windows_.erase(it);
    else
      ++it;
  }
  return dropped;
}

outcome<reservation_grant> hop_policy::reserve(const peer_id& peer, std::string_view ip, std::int64_t now_ms,
                                               bool over_relayed_connection) {
  expire(now_ms);
  auto refuse = [&](relay::status code, std::string why) {
    ++stats_.reservations_refused;
    return outcome<reservation_grant>(code, "reservation for " + peer.str() + " refused: " + why);
  };
  if (over_relayed_connection) return refuse(status::permission_denied, "it arrived over a relayed connection");

  // A refresh does not count against the limits it already holds; a refused
  // refresh leaves the existing reservation as it was.
  auto existing = reservations_.find(peer);
  const bool refresh = existing != reservations_.end();
  const std::size_t others = reservations_.size() - (refresh ? 1 : 0);
  if (others >= config_.max_reservations)
    return refuse(status::reservation_refused,
                  "the relay holds its maximum of " + std::to_string(config_.max_reservations) +
                    " reservations (max_reservations)");
  auto bucket = per_ip_.find(ip);
  std::size_t same_ip = bucket == per_ip_.end() ? 0 : bucket->second;
  if (refresh && existing->second.ip == ip) --same_ip;
  if (same_ip >= config_.max_reservations_per_ip)
    return refuse(status::reservation_refused, "IP '" + std::string(ip) + "' already holds the maximum of " +
                                                   std::to_string(config_.max_reservations_per_ip) +
                                                   " reservations (max_reservations_per_ip)");

  if (refresh) drop(existing);
  const std::int64_t expire_ms = now_ms + config_.reservation_ttl_ms;
  reservations_[peer] = rsvp{std::string(ip), expire_ms};
  ++per_ip_[std::string(ip)];
  ++stats_.reservations_granted;
  if (refresh) ++stats_.reservations_refreshed;

  reservation_grant g;
  g.expire_ms = expire_ms;
  g.expire_s = expire_ms <= 0 ? 0 : static_cast<std::uint64_t>(expire_ms / 1000);
  g.limit = wire_limit();
  g.refreshed = refresh;
  return g;
}

outcome<circuit_grant> hop_policy::connect(const peer_id& src, const peer_id& dst, std::int64_t now_ms,
                                           bool over_relayed_connection) {
  auto refuse = [&](relay::status code, std::string why) {
    ++stats_.connects_refused;
    return outcome<circuit_grant>(code, "connect " + src.str() + " -> " + dst.str() + " refused: " + why);
  };
  if (over_relayed_connection) return refuse(status::permission_denied, "it arrived over a relayed connection");

  if (config_.max_connects_per_window > 0) {
    auto& w = connect_windows_[src];
    if (w.count == 0 || now_ms - w.start_ms >= config_.connect_window_ms) w = window{now_ms, 0};
    if (++w.count > config_.max_connects_per_window)
      return refuse(status::resource_limit_exceeded,
                    "more than " + std::to_string(config_.max_connects_per_window) + " connects in " +
                        std::to_string(config_.connect_window_ms) + " ms from the source");
  }

  auto r = reservations_.find(dst);
  if (r == reservations_.end()) return refuse(status::no_reservation, "the destination has no reservation");
  if (r->second.expire_ms <= now_ms) return refuse(status::no_reservation, "the destination's reservation expired");

  auto open_of = [&](const peer_id& p) {
    auto it = circuits_per_peer_.find(p);
    return it == circuits_per_peer_.end() ? std::size_t{0} : it->second;
  };
  if (open_of(src) >= config_.max_circuits)
    return refuse(status::resource_limit_exceeded,
                  "the source has the maximum of " + std::to_string(config_.max_circuits) + " open circuits");
  if (open_of(dst) >= config_.max_circuits)
    return refuse(status::resource_limit_exceeded,
                  "the destination has the maximum of " + std::to_string(config_.max_circuits) + " open circuits");

  ++circuits_of(src);
  ++circuits_of(dst);
  circuit_grant g;
  g.id = next_circuit_++;
  circuits_.emplace(g.id, std::make_pair(src, dst));
  g.limit = wire_limit();
  if (config_.limited) {
    g.deadline_ms = config_.limit_duration_s == 0 ? 0 : now_ms + std::int64_t{config_.limit_duration_s} * 1000;
    g.data_limit = config_.limit_data;
  }
  ++stats_.connects_granted;
  return g;
}

void hop_policy::release(const peer_id& p) {
  auto it = circuits_per_peer_.find(p);
  if (it != circuits_per_peer_.end() && --it->second == 0) circuits_per_peer_.erase(it);
}

void hop_policy::circuit_closed(std::uint64_t circuit_id) {
  auto it = circuits_.find(circuit_id);
  if (it == circuits_.end()) return;
  release(it->second.first);
  release(it->second.second);
  circuits_.erase(it);
  ++stats_.circuits_closed;
}

void hop_policy::peer_disconnected(const peer_id& peer) {
  auto it = reservations_.find(peer);
  if (it == reservations_.end()) return;
  drop(it);
  ++stats_.reservations_dropped;
}

bool hop_policy::has_reservation(const peer_id& peer, std::int64_t now_ms) const {
  auto it = reservations_.find(peer);
  return it != reservations_.end() && it->second.expire_ms > now_ms;
}

hop_stats hop_policy::stats() const {
  hop_stats s = stats_;
  s.reservations = reservations_.size();
  s.circuits = circuits_.size();
  return s;
}

} // namespace aqua::p2p::relay
