// relay_client: set-up and public API, connection events, and the dispatch of
// stream events to the parts: reservations (relay_reservations.cpp), channels,
// CONNECT and STOP (relay_channels.cpp), the mailbox (relay_mailbox.cpp).
#include "p2p/relay_client.hpp"

#include <spdlog/spdlog.h>

#include "p2p/multiaddr_bytes.hpp"

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
  hc.ping_timeout_ms = config_.ping_timeout_ms;
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

result<void> relay_client::check_relay_address(const std::string& text) {
  auto ep = parse_relay(text);
  if (!ep) return ep.err();
  return ok();
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

std::vector<std::string> relay_client::circuit_addresses() {
  return on_loop([this] { return addresses_locked(false); });
}

std::vector<relay_status> relay_client::status() {
  return on_loop([this] {
    std::vector<relay_status> out;
    for (const auto& r : relays_)
      out.push_back(relay_status{r.ep.text, r.connected, r.reserved, r.expire, r.observed, r.last_error, r.card_state});
    return out;
  });
}

std::size_t relay_client::tracked_streams() {
  return on_loop([this] { return streams_.size(); });
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
  circuit_budgets_.erase(c);
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
  if (auto it = streams_.find(k); it != streams_.end() && it->second.r >= role::request)
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
    case p2p_event_kind::go_away: return on_go_away(c);  // relay_reservations.cpp
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

} // namespace aqua::p2p
