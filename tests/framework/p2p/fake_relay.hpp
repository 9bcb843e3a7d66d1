#pragma once
// Test helper: a minimal circuit relay v2 server on a tcp_host (127.0.0.1),
// enough to exercise relay_client without node: RESERVE (with a voucher),
// CONNECT -> STOP -> splice of the two streams. Not bounded, not hardened.

#include <map>
#include <mutex>

#include "p2p/relay_messages.hpp"
#include "p2p/signed_envelope.hpp"
#include "p2p/tcp_host.hpp"

namespace aqua::test {

class fake_relay {
 public:
  using skey = std::pair<p2p::conn_id, std::uint32_t>;
  explicit fake_relay(std::uint8_t seed, std::int64_t ttl_s = 3600)
      : key_(keypair::from_seed(bytes(32, seed)).value()), ttl_s_(ttl_s) {
    p2p::tcp_host_config cfg;
    cfg.p2p.protocols = {std::string(p2p::relay::hop_protocol_id)};
    p2p::tcp_host_callbacks cb;
    cb.on_event = [this](p2p::conn_id c, p2p::p2p_event& ev) { on_event(c, ev); };
    cb.on_closed = [this](p2p::conn_id c, const error&) {
      std::erase_if(reserved_, [c](const auto& kv) { return kv.second == c; });
    };
    host_ = std::make_unique<p2p::tcp_host>(key_, system_env(), cfg, cb);
    (void) host_->start();
    port_ = host_->call([this] { return host_->listen("127.0.0.1", 0); }).value();
  }
  ~fake_relay() { host_->stop(); }
  void stop() { host_->stop(); }
  std::string addr() const { return "/ip4/127.0.0.1/tcp/" + std::to_string(port_) + "/p2p/" + key_.id().str(); }
  int reserves() {
    std::lock_guard lk(mu_);
    return reserves_;
  }
  // yamux GoAway on every connection holding a reservation (the TCP connections stay).
  void go_away() {
    host_->call([this] {
      for (const auto& [peer, c] : reserved_)
        if (auto* p = host_->connection(c)) {
          (void) p->close();
          host_->flush(c);
        }
      return 0;
    });
  }
  // Leave the next `n` RESERVE requests unanswered (their streams stay open).
  void ignore_reserves(int n) {
    std::lock_guard lk(mu_);
    ignore_reserves_ = n;
  }
  // Leave the next `n` CONNECT requests unanswered (their streams stay open).
  void ignore_connects(int n) {
    std::lock_guard lk(mu_);
    ignore_connects_ = n;
  }
  // Sign vouchers for this peer instead of the reserving one (a bad voucher).
  void voucher_peer(peer_id p) { voucher_peer_ = p; }

 private:
  void reply(skey k, const p2p::relay::hop_message& m, bool close = true) {
    (void) host_->write(k.first, k.second, p2p::relay::frame(p2p::relay::encode(m)).value());
    if (close) (void) host_->close_stream(k.first, k.second);
  }
  void on_event(p2p::conn_id c, p2p::p2p_event& ev) {
    using K = p2p::p2p_event_kind;
    const skey k{c, ev.stream_id};
    if (ev.kind == K::stream_opened && ev.inbound) {
      hop_[k];
    } else if (ev.kind == K::stream_opened) {
      auto it = pending_.find(k);
      if (it != pending_.end())
        (void) host_->write(c, ev.stream_id,
                            p2p::relay::frame(p2p::relay::encode(p2p::relay::stop_connect(it->second.second))).value());
    } else if (ev.kind == K::stream_data) {
      if (auto s = splice_.find(k); s != splice_.end()) {
        (void) host_->write(s->second.first, s->second.second, ev.data);
      } else if (auto h = hop_.find(k); h != hop_.end()) {
        on_hop(k, h->second, ev.data);
      } else if (auto p = pending_.find(k); p != pending_.end()) {
        on_stop(k, ev.data);
      }
    } else if (ev.kind == K::stream_closed || ev.kind == K::stream_reset) {
      if (auto s = splice_.find(k); s != splice_.end()) {
        if (ev.kind == K::stream_closed) (void) host_->close_stream(s->second.first, s->second.second);
        else (void) host_->reset_stream(s->second.first, s->second.second);
      } else if (hop_.count(k)) {
        (void) host_->close_stream(c, ev.stream_id);
        hop_.erase(k);
      }
    }
  }
  void on_hop(skey k, p2p::relay::delimited_reader& r, bytes_view data) {
    r.feed(data);
    auto m = r.next();
    if (!m || !*m) return;
    auto msg = p2p::relay::decode_hop(**m);
    hop_.erase(k);
    const peer_id from = host_->connection(k.first)->remote_peer();
    if (!msg) return reply(k, p2p::relay::hop_status(p2p::relay::status::malformed_message));
    if (msg->type == p2p::relay::hop_message::kind::reserve) {
      {
        std::lock_guard lk(mu_);
        if (ignore_reserves_ > 0) {
          --ignore_reserves_;
          ++reserves_;
          return;
        }
      }
      const auto expire = static_cast<std::uint64_t>(host_->environment().now_unix_ms() / 1000 + ttl_s_);
      p2p::relay::reservation rsv{expire, {}, p2p::make_voucher(key_, voucher_peer_ ? *voucher_peer_ : from, expire)};
      reserved_[from] = k.first;
      {
        std::lock_guard lk(mu_);  // counted before the reply: a client that sees it finds the count updated
        ++reserves_;
      }
      reply(k, p2p::relay::hop_status(p2p::relay::status::ok, std::nullopt, rsv));
      return;
    }
    {
      std::lock_guard lk(mu_);
      if (ignore_connects_ > 0) {
        --ignore_connects_;
        return;
      }
    }
    auto target = p2p::relay::peer_of(msg->peer);
    auto t = target ? reserved_.find(*target) : reserved_.end();
    if (t == reserved_.end()) return reply(k, p2p::relay::hop_status(p2p::relay::status::no_reservation));
    const p2p::conn_id dst = t->second;  // open_stream may close it, and on_closed erases `t`
    auto s = host_->open_stream(dst, {std::string(p2p::relay::stop_protocol_id)});
    if (!s) return reply(k, p2p::relay::hop_status(p2p::relay::status::connection_failed));
    pending_[{dst, *s}] = {k, from};
  }
  void on_stop(skey k, bytes_view data) {
    auto& r = stop_readers_[k];
    r.feed(data);
    auto m = r.next();
    if (!m || !*m) return;
    const skey hop = pending_[k].first;
    pending_.erase(k);
    auto msg = p2p::relay::decode_stop(**m);
    if (!msg || msg->status != p2p::relay::status::ok)
      return reply(hop, p2p::relay::hop_status(p2p::relay::status::connection_failed));
    reply(hop, p2p::relay::hop_status(p2p::relay::status::ok), false);
    splice_[hop] = k;
    splice_[k] = hop;
    bytes rest = r.take_rest();
    if (!rest.empty()) (void) host_->write(hop.first, hop.second, rest);
  }

  keypair key_;
  std::int64_t ttl_s_;
  std::unique_ptr<p2p::tcp_host> host_;
  std::uint16_t port_ = 0;
  std::mutex mu_;
  int reserves_ = 0;
  int ignore_reserves_ = 0;
  int ignore_connects_ = 0;
  std::optional<peer_id> voucher_peer_;
  std::map<skey, p2p::relay::delimited_reader> hop_, stop_readers_;
  std::map<skey, std::pair<skey, peer_id>> pending_;  // STOP stream -> (HOP stream, source)
  std::map<skey, skey> splice_;
  std::map<peer_id, p2p::conn_id> reserved_;
};

} // namespace aqua::test
