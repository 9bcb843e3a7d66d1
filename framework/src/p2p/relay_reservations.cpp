// relay_client: connections to the relays, HOP RESERVE and its refresh, and
// the circuit addresses the reservations give us.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "p2p/relay_client.hpp"
#include "p2p/signed_envelope.hpp"

namespace aqua::p2p {

std::vector<std::string> relay_client::addresses_locked(bool reserved_only) const {
  std::vector<std::string> out;
  const std::string self = self_.str();
  for (const auto& r : relays_)
    if (r.reserved || !reserved_only) out.push_back(r.ep.text + "/p2p-circuit/p2p/" + self);
  return out;
}

void relay_client::publish_addresses() {
  auto now = addresses_locked();
  if (now == last_published_) return;
  last_published_ = now;
  if (cb_.on_addresses) cb_.on_addresses(now);
}

result<relay_client::relay_link> relay_client::link_to(const relay_ep& ep) {
  auto up = [this](conn_id c) {
    auto* p = host_->connection(c);
    return p != nullptr && p->established();
  };
  for (const auto& r : relays_)  // a reservation connection, up or being set up
    if (r.ep.id == ep.id && r.conn != 0) return relay_link{r.conn, up(r.conn)};
  for (const auto& [conn, id] : dial_relays_)
    if (id == ep.id) return relay_link{conn, up(conn)};
  dial_options opts;
  opts.expected = ep.id;
  opts.identify = true;  // connect_relay may adopt it, and a reservation connection reports observed_addr
  auto conn = host_->dial(ep.ip, ep.port, opts);
  if (!conn) return conn.err();
  dial_relays_[*conn] = ep.id;
  return relay_link{*conn, false};
}

void relay_client::connect_relay(std::size_t i) {
  // A connection a dial or a deposit opened to this relay meanwhile (e.g. while we waited to reconnect)
  // becomes the reservation connection, instead of a second one.
  for (auto it = dial_relays_.begin(); it != dial_relays_.end(); ++it) {
    auto* p = host_->connection(it->first);
    if (!(it->second == relays_[i].ep.id) || !p) continue;
    const conn_id c = it->first;
    dial_relays_.erase(it);
    relays_[i].conn = c;
    relay_conns_[c] = i;
    if (p->established()) {  // else on_established reserves
      relays_[i].connected = true;
      schedule_reserve(i, 0);
    }
    return;
  }
  dial_options opts;
  opts.expected = relays_[i].ep.id;
  opts.identify = true;
  auto c = host_->dial(relays_[i].ep.ip, relays_[i].ep.port, opts);
  if (!c) {
    relay_failed(i, "dial: " + c.err().what());
    return;
  }
  relays_[i].conn = *c;
  relay_conns_[*c] = i;
}

// yamux GoAway: the relay opens no more streams on `c` and accepts none, so
// reservations, dials and deposits need another connection from now on. What
// already runs on `c` (circuits, a fetch, deposits) goes on until it closes.
void relay_client::on_go_away(conn_id c) {
  dial_relays_.erase(c);
  // A RESERVE in flight on `c` answers for a connection no longer used; its
  // end must not fail the reservation made on the next one.
  std::erase_if(streams_, [c](const auto& kv) { return kv.first.first == c && kv.second.r == role::hop_reserve; });
  auto it = relay_conns_.find(c);
  if (it == relay_conns_.end()) return;
  const std::size_t i = it->second;
  relay_conns_.erase(it);
  relays_[i].connected = false;
  relays_[i].conn = 0;
  relay_failed(i, "the relay sent GoAway", 0);  // reconnect now: a relay that only sheds this connection takes a new one
}

void relay_client::schedule_reserve(std::size_t i, std::int64_t delay_ms) {
  host_->cancel_timer(relays_[i].timer);
  relays_[i].timer = host_->add_timer(delay_ms, [this, i] {
    relays_[i].timer = 0;
    if (!relays_[i].connected) {
      if (relays_[i].conn == 0) connect_relay(i);
      return;
    }
    const conn_id c = relays_[i].conn;
    auto s = host_->open_stream(c, {std::string(relay::hop_protocol_id)});
    if (!s) {
      relay_failed(i, "open HOP stream: " + s.err().what());
      return;
    }
    // Opening flushed; if that closed the connection, on_closed dropped its streams and scheduled the retry.
    if (!host_->connection(c)) return;
    stream_ctx ctx;
    ctx.r = role::hop_reserve;
    ctx.relay = i;
    streams_[{c, *s}] = std::move(ctx);
    // A relay that never answers must not leave the reservation pending for good. Every outcome (the
    // answer, a failure, the connection's loss) reschedules through schedule_reserve, which cancels this.
    relays_[i].timer = host_->add_timer(config_.reserve_timeout_ms, [this, i, k = skey{c, *s}] {
      relays_[i].timer = 0;
      auto it = streams_.find(k);
      if (it == streams_.end() || it->second.r != role::hop_reserve) return;
      streams_.erase(it);
      (void) host_->reset_stream(k.first, k.second);  // may close the connection: on_closed also retries
      relay_failed(i, "no answer to RESERVE within " + std::to_string(config_.reserve_timeout_ms) + " ms");
    });
  });
}

void relay_client::relay_failed(std::size_t i, const std::string& why, std::int64_t retry_in_ms) {
  spdlog::warn("relay client: {}: {}", relays_[i].ep.text, why);
  relays_[i].reserved = false;
  relays_[i].last_error = why;
  publish_addresses();
  schedule_reserve(i, retry_in_ms < 0 ? config_.retry_ms : retry_in_ms);
}

void relay_client::on_reserved(std::size_t i, const relay::hop_message& m) {
  auto& r = relays_[i];
  if (m.type != relay::hop_message::kind::status || m.status != relay::status::ok || !m.reservation)
    return relay_failed(i, "reservation refused: " + relay::to_string(m.status.value_or(relay::status::unused)) +
                             " (the relay's log says why, e.g. one of its limits: max_reservations_per_ip)");
  const auto now_ms = env_->now_unix_ms();
  if (!m.reservation->voucher.empty()) {
    auto v = open_voucher(m.reservation->voucher, r.ep.id, now_ms);
    if (!v || !(v->peer == self_)) {
      const std::string why = v ? "voucher names another peer" : v.err().what();
      if (config_.require_voucher) return relay_failed(i, "bad voucher: " + why);
      spdlog::warn("relay client: {}: ignoring bad voucher: {}", r.ep.text, why);
    }
  } else if (config_.require_voucher) {
    return relay_failed(i, "reservation without a voucher");
  }
  r.reserved = true;
  r.expire = m.reservation->expire;
  r.last_error.clear();
  const std::int64_t ttl_ms = static_cast<std::int64_t>(r.expire) * 1000 - now_ms;
  std::int64_t delay = ttl_ms - config_.refresh_margin_ms;
  if (delay < config_.min_refresh_ms) delay = std::max<std::int64_t>(std::min(config_.min_refresh_ms, ttl_ms / 2), 1000);
  spdlog::info("relay client: reserved on {} until {} (refresh in {} ms){}", r.ep.text, r.expire, delay,
               m.limit ? " with a limit" : "");
  schedule_reserve(i, delay);
  publish_addresses();
  start_fetch(relays_[i].conn);  // held mail (relay_mailbox.cpp); not r: on_addresses may add_relay (relays_ grows)
  publish_card_on(i);            // our card, once per reservation connection (relay_cards.cpp)
}

} // namespace aqua::p2p
