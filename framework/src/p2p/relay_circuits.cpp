// relay_server: CONNECT, the STOP handshake, splicing with backpressure and
// the circuit limits. Every exit path goes through end_circuit(), which
// releases the circuit in hop_policy.
//
// Re-entrancy: a host call (write, close_stream, consumed) can close a
// connection synchronously (on_closed -> end_circuit), so state is looked up
// again after each one and never held by reference across it.
#include <spdlog/spdlog.h>

#include "p2p/relay_server.hpp"

namespace aqua::p2p {

void relay_server::on_connect(skey k, const peer_conn& pc, const relay::hop_message& m, bytes early) {
  auto dst = relay::peer_of(m.peer);
  if (!dst) return answer_hop(k, relay::status::malformed_message, "CONNECT without a valid peer: " + dst.err().what());
  const auto now = env_->now_unix_ms();
  auto g = policy_.connect(pc.peer, *dst, now, pc.relayed);
  if (!g) return answer_hop(k, g.code(), g.reason());
  auto rc = reservation_conn_.find(*dst);
  if (rc == reservation_conn_.end() || !conns_.count(rc->second)) {
    policy_.circuit_closed(g->id);
    return answer_hop(k, relay::status::no_reservation, "the destination's connection is gone");
  }
  // Opening flushes, which may close the destination's connection: on_closed then erases `rc`.
  const conn_id dst_conn = rc->second;
  auto s = host_->open_stream(dst_conn, {std::string(relay::stop_protocol_id)});
  if (!s || !conns_.count(dst_conn)) {
    policy_.circuit_closed(g->id);
    ++counters_.stop_failed;
    return answer_hop(k, relay::status::connection_failed,
                      "open STOP stream: " + (s ? std::string("destination connection closed") : s.err().what()));
  }
  const std::uint64_t id = next_circuit_++;
  circuit& c = circuits_[id];
  c.policy_id = g->id;
  c.src = k;
  c.dst = {dst_conn, *s};
  c.src_peer = pc.peer;
  c.dst_peer = *dst;
  c.grant = *g;
  c.to_dst.received = early.size();
  c.to_dst.pending = std::move(early);
  circuit_of_[c.src] = id;
  circuit_of_[c.dst] = id;
  c.timer = host_->add_timer(config_.request_timeout_ms, [this, id] { end_circuit(id, "STOP handshake timed out", true); });
  spdlog::debug("relay: circuit {} {} -> {}: STOP stream {}", id, pc.peer.str(), dst->str(), *s);
}

void relay_server::on_stop_opened(std::uint64_t id) {
  auto it = circuits_.find(id);
  if (it == circuits_.end() || it->second.established) return;
  const skey dst = it->second.dst;
  auto msg = relay::frame(relay::encode(relay::stop_connect(it->second.src_peer, it->second.grant.limit)));
  (void) host_->write(dst.first, dst.second, msg.value());
}

void relay_server::on_stop_data(std::uint64_t id, bytes_view data) {
  auto it = circuits_.find(id);
  if (it == circuits_.end()) return;
  // The STOP answer is small; relayed bytes right behind it are bounded by one read.
  const skey stop = it->second.dst;
  host_->consumed(stop.first, stop.second, data.size());
  it = circuits_.find(id);
  if (it == circuits_.end()) return;
  circuit& c = it->second;
  c.stop_reader.feed(data);
  auto m = c.stop_reader.next();
  if (m && !*m) return;
  auto msg = m ? relay::decode_stop(**m) : result<relay::stop_message>(m.err());
  if (!msg) return end_circuit(id, "bad STOP answer: " + msg.err().what(), true);
  if (msg->type != relay::stop_message::kind::status || msg->status != relay::status::ok)
    return end_circuit(id, "destination answered " + relay::to_string(msg->status.value_or(relay::status::unused)),
                       true);
  c.established = true;
  host_->cancel_timer(c.timer);
  c.timer = 0;
  bytes rest = c.stop_reader.take_rest();
  c.to_src.received = rest.size();
  c.to_src.pending = std::move(rest);
  if (c.grant.deadline_ms > 0)
    c.timer = host_->add_timer(std::max<std::int64_t>(0, c.grant.deadline_ms - env_->now_unix_ms()), [this, id] {
      if (!circuits_.count(id)) return;
      ++counters_.circuits_duration_limited;
      end_circuit(id, "duration limit reached", true);
    });
  const skey src = c.src;
  const auto limit = c.grant.limit;
  auto ok_msg = relay::frame(relay::encode(relay::hop_status(relay::status::ok, limit)));
  (void) host_->write(src.first, src.second, ok_msg.value());
  spdlog::debug("relay: circuit {} established", id);
  forward(id, true);
  forward(id, false);
}

void relay_server::on_circuit_event(std::uint64_t id, skey from, p2p_event& ev) {
  auto it = circuits_.find(id);
  if (it == circuits_.end()) return;
  circuit& c = it->second;
  const bool from_src = from == c.src;
  if (!c.established && !from_src) {  // the STOP stream during the handshake
    if (ev.kind == p2p_event_kind::stream_data) return on_stop_data(id, ev.data);
    if (ev.kind == p2p_event_kind::stream_closed || ev.kind == p2p_event_kind::stream_reset)
      return end_circuit(id, "destination ended the STOP stream: " + ev.reason, true);
    return;
  }
  direction& d = from_src ? c.to_dst : c.to_src;
  switch (ev.kind) {
    case p2p_event_kind::stream_data: {
      d.received += ev.data.size();
      if (c.grant.data_limit > 0 && d.received > c.grant.data_limit) {
        ++counters_.circuits_data_limited;
        return end_circuit(id, "data limit of " + std::to_string(c.grant.data_limit) + " bytes reached", true);
      }
      if (d.pending.empty()) d.pending = std::move(ev.data);
      else d.pending.insert(d.pending.end(), ev.data.begin(), ev.data.end());
      // Not yet established: held (no window credit, so the sender stops at one window).
      if (c.established) forward(id, from_src);
      return;
    }
    case p2p_event_kind::stream_closed:
      d.fin = true;
      if (c.established) forward(id, from_src);
      return;
    case p2p_event_kind::stream_reset: return end_circuit(id, "reset by " + std::string(from_src ? "source" : "destination"), true);
    case p2p_event_kind::writable: return forward(id, !from_src);  // `from` takes more: the direction into it
    default: return;
  }
}

void relay_server::forward(std::uint64_t id, bool to_dst) {
  auto it = circuits_.find(id);
  if (it == circuits_.end() || !it->second.established) return;
  const skey in = to_dst ? it->second.src : it->second.dst;
  const skey out = to_dst ? it->second.dst : it->second.src;
  auto dir = [&]() -> direction* {
    auto i = circuits_.find(id);
    if (i == circuits_.end()) return nullptr;
    return to_dst ? &i->second.to_dst : &i->second.to_src;
  };
  if (!dir()->pending.empty()) {
    bytes chunk = std::move(dir()->pending);
    auto n = host_->write(out.first, out.second, chunk);
    if (!n) return end_circuit(id, "write: " + n.err().what(), true);
    direction* d = dir();
    if (d == nullptr) return;
    if (*n < chunk.size()) d->pending.assign(chunk.begin() + static_cast<std::ptrdiff_t>(*n), chunk.end());
    counters_.bytes_relayed += *n;
    host_->consumed(in.first, in.second, *n);  // window credit for what the other side took
  }
  direction* d = dir();
  if (d == nullptr) return;
  if (d->pending.empty() && d->fin && !d->fin_sent) {
    d->fin_sent = true;
    (void) host_->close_stream(out.first, out.second);
  }
  auto i = circuits_.find(id);
  if (i != circuits_.end() && i->second.to_dst.fin_sent && i->second.to_src.fin_sent)
    end_circuit(id, "closed both ways", false);
}

void relay_server::end_circuit(std::uint64_t id, const std::string& why, bool reset) {
  auto it = circuits_.find(id);
  if (it == circuits_.end()) return;
  const circuit c = std::move(it->second);
  circuits_.erase(it);
  circuit_of_.erase(c.src);
  circuit_of_.erase(c.dst);
  host_->cancel_timer(c.timer);
  policy_.circuit_closed(c.policy_id);
  spdlog::debug("relay: circuit {} {} -> {} ended: {}", id, c.src_peer.str(), c.dst_peer.str(), why);
  if (!c.established) {
    ++counters_.stop_failed;
    (void) host_->reset_stream(c.dst.first, c.dst.second);
    answer_hop(c.src, relay::status::connection_failed, why);
    return;
  }
  if (reset) {
    (void) host_->reset_stream(c.src.first, c.src.second);
    (void) host_->reset_stream(c.dst.first, c.dst.second);
  }
}

} // namespace aqua::p2p
