// relay_client: relay connections, HOP RESERVE and its refresh, STOP.
// Channels and HOP CONNECT are in relay_channels.cpp.
#include "p2p/relay_client.hpp"

#include <spdlog/spdlog.h>

#include "p2p/multiaddr_bytes.hpp"
#include "p2p/signed_envelope.hpp"

namespace aqua::p2p {

relay_client::relay_client(const keypair& identity, std::shared_ptr<env> e, relay_client_config config,
                           relay_client_callbacks callbacks)
    : self_(identity.id()), env_(std::move(e)), config_(std::move(config)), cb_(std::move(callbacks)) {
  host_ = std::make_unique<tcp_host>(identity, env_, host_config(), host_callbacks());
}

relay_client::relay_client(session_factory sessions, const public_key& self, std::shared_ptr<env> e,
                           relay_client_config config, relay_client_callbacks callbacks)
    : self_(peer_id::from_public_key(self)), env_(std::move(e)), config_(std::move(config)), cb_(std::move(callbacks)) {
  host_ = std::make_unique<tcp_host>(std::move(sessions), self, env_, host_config(), host_callbacks());
}

tcp_host_config relay_client::host_config() {
  tcp_host_config hc;
  hc.p2p.protocols = {std::string(relay::stop_protocol_id), std::string(aqua_msg_protocol_id)};
  hc.ping_interval_ms = config_.ping_interval_ms;
  hc.max_connections = config_.max_channels + config_.relays.size() + 16;
  return hc;
}

tcp_host_callbacks relay_client::host_callbacks() {
  tcp_host_callbacks hcb;
  hcb.on_established = [this](conn_id c, const peer_id& p, bool in) { on_established(c, p, in); };
  hcb.on_event = [this](conn_id c, p2p_event& ev) { on_event(c, ev); };
  hcb.on_closed = [this](conn_id c, const error& err) { on_closed(c, err); };
  return hcb;
}

relay_client::~relay_client() { stop(); }

result<relay_client::relay_ep> relay_client::parse_relay(const std::string& text) {
  // /ip4/A/tcp/P/p2p/ID
  std::vector<std::string> parts;
  std::size_t at = 0;
  for (int i = 0; i < 16 && at <= text.size(); ++i) {
    auto next = text.find('/', at);
    parts.push_back(text.substr(at, next == std::string::npos ? std::string::npos : next - at));
    if (next == std::string::npos) break;
    at = next + 1;
  }
  if (parts.size() != 7 || !parts[0].empty() || parts[1] != "ip4" || parts[3] != "tcp" || parts[5] != "p2p")
    return error{errc::bad_address, "relay address must be /ip4/A/tcp/P/p2p/ID, got " + text};
  relay_ep ep;
  ep.text = text;
  ep.ip = parts[2];
  char* end = nullptr;
  const unsigned long port = std::strtoul(parts[4].c_str(), &end, 10);
  if (parts[4].empty() || *end != '\0' || port == 0 || port > 65535)
    return error{errc::bad_address, "bad tcp port in relay address " + text};
  ep.port = static_cast<std::uint16_t>(port);
  auto id = peer_id::parse(parts[6]);
  if (!id) return error{id.err().code(), "relay address " + text + ": " + id.err().message()};
  ep.id = *id;
  return ep;
}

result<void> relay_client::start() {
  for (const auto& r : config_.relays) {
    auto ep = parse_relay(r);
    if (!ep) return ep.err();
    relay_state st;
    st.ep = *ep;
    relays_.push_back(std::move(st));
  }
  if (auto r = host_->start(); !r) return r;
  {
    std::lock_guard<std::mutex> g(guard_->mu);
    guard_->host = host_.get();
  }
  host_->post([this] {
    for (std::size_t i = 0; i < relays_.size(); ++i) connect_relay(i);
  });
  return ok();
}

void relay_client::stop() {
  {
    std::lock_guard<std::mutex> g(guard_->mu);
    guard_->host = nullptr;
  }
  host_->stop();
}

result<void> relay_client::add_relay(const std::string& text) {
  auto ep = parse_relay(text);
  if (!ep) return ep.err();
  return on_loop([&]() -> result<void> {
    for (const auto& r : relays_)
      if (r.ep.text == text) return ok();
    relay_state st;
    st.ep = *ep;
    relays_.push_back(std::move(st));
    connect_relay(relays_.size() - 1);
    return ok();
  });
}

std::vector<std::string> relay_client::addresses() {
  return on_loop([this] { return addresses_locked(); });
}

std::vector<relay_status> relay_client::status() {
  return on_loop([this] {
    std::vector<relay_status> out;
    for (const auto& r : relays_)
      out.push_back(relay_status{r.ep.text, r.connected, r.reserved, r.expire, r.observed, r.last_error});
    return out;
  });
}

std::size_t relay_client::tracked_streams() {
  return on_loop([this] { return streams_.size(); });
}

std::vector<std::string> relay_client::addresses_locked() const {
  std::vector<std::string> out;
  const std::string self = self_.str();
  for (const auto& r : relays_)
    if (r.reserved) out.push_back(r.ep.text + "/p2p-circuit/p2p/" + self);
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
  });
}

void relay_client::relay_failed(std::size_t i, const std::string& why) {
  spdlog::warn("relay client: {}: {}", relays_[i].ep.text, why);
  relays_[i].reserved = false;
  relays_[i].last_error = why;
  publish_addresses();
  schedule_reserve(i, config_.retry_ms);
}

void relay_client::on_established(conn_id c, const peer_id& peer, bool inbound) {
  if (auto it = relay_conns_.find(c); it != relay_conns_.end()) {
    relays_[it->second].connected = true;
    schedule_reserve(it->second, 0);
  }
  mailbox_conn_up(c);
  if (auto it = conn_waiters_.find(c); it != conn_waiters_.end()) {
    auto chans = std::move(it->second);
    conn_waiters_.erase(it);
    for (auto ch : chans) start_connect(c, ch);
  }
  if (auto it = stop_sources_.find(c); it != stop_sources_.end()) {
    const bool same = it->second == peer;
    stop_sources_.erase(it);
    if (!same) {
      host_->close(c, error{errc::wrong_recipient, "relayed peer is not the one the relay announced"});
      return;
    }
  }
  if (auto it = nested_waiters_.find(c); it != nested_waiters_.end()) {
    const channel_id ch = it->second;
    nested_waiters_.erase(it);
    auto s = host_->open_stream(c, {std::string(aqua_msg_protocol_id)});
    auto chit = channels_.find(ch);
    if (!s || chit == channels_.end()) {
      if (chit != channels_.end()) fail_channel(ch, s ? error{errc::connection_closed, "gone"} : s.err(), false);
      return;
    }
    chit->second.conn = c;
    chit->second.stream = *s;
    channel_of_[{c, *s}] = ch;
  }
  (void) inbound;
}

void relay_client::on_closed(conn_id c, const error& e) {
  if (auto it = relay_conns_.find(c); it != relay_conns_.end()) {
    const std::size_t i = it->second;
    relay_conns_.erase(it);
    relays_[i].connected = false;
    relays_[i].conn = 0;
    relay_failed(i, "connection lost: " + e.what());
  }
  dial_relays_.erase(c);
  stop_sources_.erase(c);
  mailbox_conn_gone(c, e);
  std::vector<channel_id> dead;
  if (auto it = conn_waiters_.find(c); it != conn_waiters_.end()) {
    dead = std::move(it->second);
    conn_waiters_.erase(it);
  }
  if (auto it = nested_waiters_.find(c); it != nested_waiters_.end()) {
    dead.push_back(it->second);
    nested_waiters_.erase(it);
  }
  for (const auto& [id, ch] : channels_)
    if (ch.conn == c) dead.push_back(id);
  for (const auto& [k, ctx] : streams_)  // dials still waiting for the relay's answer to CONNECT
    if (k.first == c && ctx.r == role::hop_connect) dead.push_back(ctx.ch);
  for (auto ch : dead) fail_channel(ch, e, false);
  std::erase_if(streams_, [c](const auto& kv) { return kv.first.first == c; });
}

void relay_client::on_event(conn_id c, p2p_event& ev) {
  const skey k{c, ev.stream_id};
  if (auto it = streams_.find(k); it != streams_.end() && it->second.r >= role::mb_deposit)
    return on_mailbox_event(k, it->second, ev);  // relay_mailbox.cpp
  switch (ev.kind) {
    case p2p_event_kind::identified: {
      // Our address as the relay sees it, from any of our connections to it (connect_relay may adopt one).
      auto* p = host_->connection(c);
      if (!ev.identify || !p || (!relay_conns_.count(c) && !dial_relays_.count(c))) return;
      auto t = multiaddr_to_text(ev.identify->observed_addr);
      for (auto& r : relays_) {
        if (!(r.ep.id == p->remote_peer())) continue;
        r.observed = t ? *t : std::string();
        spdlog::info("relay client: {} sees us at {}", r.ep.text, r.observed);
      }
      return;
    }
    case p2p_event_kind::stream_opened: {
      if (ev.inbound && ev.protocol == relay::stop_protocol_id) {
        stream_ctx ctx;
        ctx.r = role::stop;
        streams_[k] = std::move(ctx);
      } else if (ev.inbound && ev.protocol == aqua_msg_protocol_id) {
        auto* p2p = host_->connection(c);
        if (!p2p || channels_.size() >= config_.max_channels) {
          (void) host_->reset_stream(c, ev.stream_id);
          return;
        }
        const peer_id remote = p2p->remote_peer();  // a copy: the callback may close the connection
        const channel_id ch = add_channel(c, ev.stream_id, true, remote);
        if (cb_.on_channel_open) cb_.on_channel_open(ch, remote, true);
      } else if (auto it = streams_.find(k); it != streams_.end()) {
        relay::hop_message m = relay::hop_reserve();
        if (it->second.r == role::hop_connect) {
          auto chit = channels_.find(it->second.ch);
          if (chit == channels_.end()) {
            streams_.erase(it);
            (void) host_->reset_stream(c, ev.stream_id);
            return;
          }
          m = relay::hop_connect(chit->second.peer);
        }
        (void) host_->write(c, ev.stream_id, relay::frame(relay::encode(m)).value());
      } else if (auto ch = channel_of_.find(k); ch != channel_of_.end()) {
        // Copies: the callback may send or close, and so end the channel (erasing `ch` and its entry).
        const channel_id id = ch->second;
        channels_[id].open = true;
        const peer_id remote = channels_[id].peer;
        if (cb_.on_channel_open) cb_.on_channel_open(id, remote, false);
        flush_channel(id);
      } else {
        (void) host_->reset_stream(c, ev.stream_id);
      }
      return;
    }
    case p2p_event_kind::stream_data:
      if (auto ch = channel_of_.find(k); ch != channel_of_.end()) {
        on_channel_data(ch->second, ev.data);
      } else if (auto it = streams_.find(k); it != streams_.end()) {
        if (it->second.r == role::stop) on_stop_data(k, it->second, ev.data);
        else on_hop_data(k, it->second, ev.data);
      }
      return;
    case p2p_event_kind::stream_closed:
    case p2p_event_kind::stream_reset:
      if (auto ch = channel_of_.find(k); ch != channel_of_.end()) {
        const channel_id id = ch->second;
        if (ev.kind == p2p_event_kind::stream_reset) {
          fail_channel(id, error{errc::connection_closed, "stream reset by the peer"}, false);
          return;
        }
        channels_[id].remote_closed = true;
        if (cb_.on_remote_closed) cb_.on_remote_closed(id);
        if (channels_.count(id) && channels_[id].fin_sent) finish_channel(id);
      } else if (auto it = streams_.find(k); it != streams_.end()) {
        const stream_ctx ctx = std::move(it->second);
        streams_.erase(it);
        (void) host_->reset_stream(c, ev.stream_id);
        if (ctx.r == role::hop_reserve) relay_failed(ctx.relay, "HOP stream ended without an answer");
        if (ctx.r == role::hop_connect)
          fail_channel(ctx.ch, error{errc::connection_refused, "relay ended the HOP stream without an answer"}, false);
      }
      return;
    case p2p_event_kind::writable:
      if (auto ch = channel_of_.find(k); ch != channel_of_.end()) flush_channel(ch->second);
      return;
    default: return;
  }
}

void relay_client::on_hop_data(skey k, stream_ctx& ctx, bytes_view data) {
  ctx.reader.feed(data);
  auto m = ctx.reader.next();
  if (m && !*m) return;  // need more
  stream_ctx done = std::move(ctx);
  streams_.erase(k);
  auto msg = m ? relay::decode_hop(**m) : result<relay::hop_message>(m.err());
  if (done.r == role::hop_reserve) {
    (void) host_->close_stream(k.first, k.second);
    if (relays_[done.relay].conn != k.first) return;  // closing flushed, which closed the connection: retried
    if (!msg) return relay_failed(done.relay, "bad HOP answer: " + msg.err().what());
    return on_reserved(done.relay, *msg);
  }
  if (!msg) {
    (void) host_->reset_stream(k.first, k.second);
    return fail_channel(done.ch, error{msg.err().code(), "bad HOP answer: " + msg.err().message()}, false);
  }
  bytes rest = done.reader.take_rest();
  on_hop_connect_reply(k, done.ch, *msg, std::move(rest));
}

void relay_client::on_reserved(std::size_t i, const relay::hop_message& m) {
  auto& r = relays_[i];
  if (m.type != relay::hop_message::kind::status || m.status != relay::status::ok || !m.reservation)
    return relay_failed(i, "reservation refused: " + relay::to_string(m.status.value_or(relay::status::unused)));
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
}

void relay_client::on_stop_data(skey k, stream_ctx& ctx, bytes_view data) {
  ctx.reader.feed(data);
  auto m = ctx.reader.next();
  if (m && !*m) return;
  stream_ctx done = std::move(ctx);
  streams_.erase(k);
  auto msg = m ? relay::decode_stop(**m) : result<relay::stop_message>(m.err());
  auto answer = [&](relay::status st) {
    (void) host_->write(k.first, k.second, relay::frame(relay::encode(relay::stop_status(st))).value());
  };
  if (!msg || msg->type != relay::stop_message::kind::connect) {
    answer(msg ? relay::status::unexpected_message : relay::status::malformed_message);
    (void) host_->close_stream(k.first, k.second);
    return;
  }
  auto source = relay::peer_of(msg->peer);
  if (!source) {
    answer(relay::status::malformed_message);
    (void) host_->close_stream(k.first, k.second);
    return;
  }
  answer(relay::status::ok);
  auto child = host_->adopt_stream(k.first, k.second, false, {}, done.reader.take_rest());
  if (!child) {
    spdlog::warn("relay client: relayed connection from {} failed: {}", source->str(), child.err().what());
    return;
  }
  stop_sources_[*child] = *source;
  spdlog::debug("relay client: relayed connection {} from {}", *child, source->str());
}

} // namespace aqua::p2p
