// The "relay_v2" transport plugin: aqua frames over libp2p circuit relay v2
// (docs/transports.md "relay_v2", docs/protocol/relay-v2.md "Client
// behaviour", docs/protocol/aqua-msg.md). Reachable at
// /ip4/R/tcp/P/p2p/RELAY/p2p-circuit/p2p/SELF once reserved on a relay;
// dials such addresses. Noise sessions come from the node's transport_host
// (ABI 2), so the plugin never holds the identity key.
//
// settings:
//   relays           comma-separated /ip4/A/tcp/P/p2p/RELAY addresses to reserve on
//   max_frame_bytes  largest frame (default 4 MiB)
//   queue_bytes      bytes queued per connection each way (default 8 MiB)
//   listen_timeout_ms how long listen() waits for a reservation before going on without one (default 10000)

#include <aqua/plugin.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "core/split_list.hpp"
#include "p2p/relay_client.hpp"

namespace aqua::relayt {
namespace {

using p2p::channel_id;

class relay_conn : public connection {
 public:
  relay_conn(p2p::relay_client* rc, channel_id ch, std::string local, std::string remote, peer_id peer,
             std::size_t max_queue, bool open)
      : rc_(rc), ch_(ch), local_(std::move(local)), remote_(std::move(remote)), peer_(std::move(peer)),
        max_queue_(max_queue), open_(open) {}

  std::string local_address() const override { return local_; }
  std::string remote_address() const override { return remote_; }
  peer_id remote_peer() const override { return peer_; }
  void set_observer(std::shared_ptr<connection_observer> o) override {
    bool readable;
    std::optional<error> closed;
    {
      std::lock_guard lk(mu_);
      observer_ = o;
      readable = !queue_.empty();
      closed = closed_reason_;
    }
    if (readable) o->on_readable();
    if (closed) o->on_closed(*closed);
  }
  result<void> send(bytes_view frame) override {
    {
      std::lock_guard lk(mu_);
      if (closed_) return error{errc::connection_closed, "relay_v2: connection closed"};
      // Until the circuit is open the frame stays with the caller: a circuit the relay refuses (the peer
      // holds no reservation) then fails with the frame untaken, so the node tries the next path (the
      // relay's mailbox) at once instead of counting a frame as sent that never left.
      if (!open_) return error{errc::would_block, "relay_v2: circuit to " + peer_.str() + " not open yet"};
    }
    return rc_->send(ch_, frame);
  }
  std::optional<bytes> try_receive() override {
    std::lock_guard lk(mu_);
    if (queue_.empty()) return std::nullopt;
    bytes f = std::move(queue_.front());
    queue_.pop_front();
    queued_ -= f.size();
    return f;
  }
  void close() override {
    {
      std::lock_guard lk(mu_);
      if (closed_) return;
      closed_ = true;
    }
    (void) rc_->close(ch_);
  }
  bool is_open() const override {
    std::lock_guard lk(mu_);
    return !closed_;
  }

  // From the relay client's loop thread.
  bool deliver(bytes f) {
    std::shared_ptr<connection_observer> o;
    {
      std::lock_guard lk(mu_);
      if (queued_ + f.size() > max_queue_) return false;
      queued_ += f.size();
      queue_.push_back(std::move(f));
      o = observer_;
    }
    if (o) o->on_readable();
    return true;
  }
  void writable(bool now_open = false) {
    std::shared_ptr<connection_observer> o;
    {
      std::lock_guard lk(mu_);
      if (now_open) open_ = true;
      o = observer_;
    }
    if (o) o->on_writable();
  }
  void closed(const error& e) {
    std::shared_ptr<connection_observer> o;
    {
      std::lock_guard lk(mu_);
      if (closed_reason_) return;
      closed_ = true;
      closed_reason_ = e;
      o = observer_;
    }
    if (o) o->on_closed(e);
  }

 private:
  p2p::relay_client* rc_;
  channel_id ch_;
  std::string local_, remote_;
  peer_id peer_;
  std::size_t max_queue_;
  mutable std::mutex mu_;
  std::shared_ptr<connection_observer> observer_;
  std::deque<bytes> queue_;
  std::size_t queued_ = 0;
  bool closed_ = false;
  bool open_;  // the circuit is open (inbound ones are born open)
  std::optional<error> closed_reason_;
};

// How long our half of a stream stays open after the peer closed its own (on_remote_closed).
constexpr std::int64_t fin_grace_ms = 2000;

struct limits {
  std::vector<std::string> relays;
  std::size_t max_frame = 4u << 20;
  std::size_t queue_bytes = 8u << 20;
  std::int64_t listen_timeout_ms = 10000;
  std::int64_t ping_interval_ms = 15000;  // keepalive on each relay connection (0: no pings)
  std::int64_t ping_timeout_ms = 45000;   // a relay connection silent this long is closed and redialled (0: never)
};

constexpr std::string_view circuit_suffix = "/p2p-circuit";

result<void> check_listen_address(const std::string& address) {
  if (address.size() < circuit_suffix.size() ||
      address.compare(address.size() - circuit_suffix.size(), circuit_suffix.size(), circuit_suffix) != 0)
    return error{errc::bad_address, "relay_v2 listens on /ip4/A/tcp/P/p2p/RELAY/p2p-circuit (or /p2p-circuit for the "
                                    "relays setting), got '" + address + "'"};
  return ok();
}

class relay_v2_transport : public transport {
 public:
  explicit relay_v2_transport(limits lim) : lim_(std::move(lim)) {}
  ~relay_v2_transport() override { stop(); }

  std::string plugin_name() const override { return "relay_v2"; }

  void start(std::shared_ptr<transport_observer> observer, std::shared_ptr<transport_host> host) override {
    std::lock_guard lk(mu_);
    if (rc_) return;
    observer_ = std::move(observer);
    host_ = std::move(host);
    if (!host_) return;
    p2p::relay_client_config cfg;
    cfg.relays = lim_.relays;
    cfg.max_frame = lim_.max_frame;
    cfg.max_channel_buffer = lim_.queue_bytes;
    cfg.ping_interval_ms = lim_.ping_interval_ms;
    cfg.ping_timeout_ms = lim_.ping_timeout_ms;
    auto th = host_;
    p2p::session_factory sessions = [th](bool initiator, std::optional<peer_id> expected) {
      return th->new_session(initiator, std::move(expected));
    };
    rc_ = std::make_unique<p2p::relay_client>(std::move(sessions), host_->local_peer().key(), system_env(), cfg,
                                              callbacks());
    if (auto r = rc_->start(); !r) start_error_ = r.err();
  }

  result<std::string> listen(const std::string& address) override {
    if (!rc_) return error{errc::not_running, "relay_v2 transport: start() it with the node's transport host first"};
    if (start_error_) return *start_error_;
    if (auto r = check_listen_address(address); !r) return r.err();
    const std::string relay = address.substr(0, address.size() - circuit_suffix.size());
    if (relay.empty() && lim_.relays.empty())  // nothing to reserve on: say so now, not after listen_timeout_ms
      return error{errc::bad_address, "relay_v2: /p2p-circuit reserves on the relays of the 'relays' setting, and it "
                                       "names none: set relays, or listen on /ip4/A/tcp/P/p2p/RELAY/p2p-circuit"};
    if (!relay.empty())
      if (auto r = rc_->add_relay(relay); !r) return r.err();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(lim_.listen_timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& a : rc_->addresses())
        if (relay.empty() || a.rfind(relay + "/p2p-circuit/", 0) == 0) return a;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // No reservation yet (the relay is down or restarting, the network not up yet): the node starts anyway and
    // the client keeps reserving in the background (every 5 s), as it does when a reservation is lost later. The
    // address is the one the reservation will have; until then peers that dial it are refused by the relay and
    // leave their mail on its mailbox, which we fetch once connected.
    std::string why;
    for (const auto& s : rc_->status())
      if (relay.empty() || s.relay == relay)
        why += (why.empty() ? "" : "; ") + s.relay + ": " + (s.last_error.empty() ? "still connecting" : s.last_error);
    const std::string first = relay.empty() ? lim_.relays.front() : relay;
    spdlog::warn("relay_v2: no reservation for {} after {} ms ({}); going on without one and reserving in the "
                 "background: peers reach this node through {} once the reservation is made",
                 address, lim_.listen_timeout_ms, why, first);
    return first + "/p2p-circuit/p2p/" + host_->local_peer().str();
  }

  result<std::shared_ptr<connection>> dial(const std::string& address) override {
    if (!rc_) return error{errc::not_running, "relay_v2 transport: start() it with the node's transport host first"};
    const auto at = address.find("/p2p-circuit/p2p/");
    if (at == std::string::npos)
      return error{errc::bad_address, "relay_v2 dials /ip4/A/tcp/P/p2p/RELAY/p2p-circuit/p2p/PEER, got '" + address + "'"};
    auto peer = peer_id::parse(address.substr(at + 17));
    if (!peer) return peer.err();
    // On the loop thread, so no event of the new channel can arrive before it is registered.
    auto run = [&]() -> result<std::shared_ptr<connection>> {
      auto ch = rc_->dial(address);
      if (!ch) return ch.err();
      auto c = std::make_shared<relay_conn>(rc_.get(), *ch, local(), address, *peer, lim_.queue_bytes, false);
      std::lock_guard lk(mu_);
      conns_[*ch] = c;
      return std::shared_ptr<connection>(c);
    };
    if (rc_->host().on_loop_thread()) return run();
    return rc_->host().call(run);
  }

  std::vector<std::string> listen_addresses() const override { return rc_ ? rc_->addresses() : std::vector<std::string>{}; }
  std::vector<std::string> card_addresses() const override {
    return rc_ ? rc_->circuit_addresses() : std::vector<std::string>{};
  }

  // The relay's mailbox (docs/protocol/mailbox.md); address = /ip4/A/tcp/P/p2p/RELAY/p2p-circuit/p2p/RECIPIENT.
  std::vector<std::pair<std::string, std::string>> diagnostics() const override {
    std::vector<std::pair<std::string, std::string>> out;
    if (!rc_) return out;
    for (const auto& s : rc_->status()) {
      auto state = s.reserved ? "reserved" : s.connected ? "connected, not reserved" : "not connected";
      out.emplace_back("relay " + s.relay, state);
      if (s.reserved) out.emplace_back("relay " + s.relay + " expires_unix_s", std::to_string(s.expire_unix_s));
      if (!s.observed_addr.empty()) out.emplace_back("relay " + s.relay + " observed_addr", s.observed_addr);
      if (!s.last_error.empty()) out.emplace_back("relay " + s.relay + " last_error", s.last_error);
      if (!s.card.empty()) out.emplace_back("relay " + s.relay + " card", s.card);
    }
    return out;
  }

  void deposit(const std::string& address, bytes_view frame, std::uint32_t ttl_s,
               std::function<void(result<void>)> done) override {
    if (!rc_) return done(error{errc::not_running, "relay_v2 transport: not started"});
    rc_->deposit(address, bytes(frame.begin(), frame.end()), ttl_s, std::move(done));
  }

  void publish_card(bytes card) override {
    if (rc_) rc_->publish_card(std::move(card));
  }

  void lookup_card(const peer_id& peer, std::function<void(result<bytes>)> done) override {
    if (!rc_) return done(error{errc::not_running, "relay_v2 transport: not started"});
    rc_->lookup_card(peer, std::move(done));
  }

  void stop() override {
    if (rc_) rc_->stop();
    std::lock_guard lk(mu_);
    for (auto& [ch, c] : conns_) c->closed(error{errc::connection_closed, "transport stopped"});
    conns_.clear();
  }

 private:
  std::string local() {
    auto a = rc_->addresses();
    return a.empty() ? std::string("/p2p-circuit") : a.front();
  }
  std::shared_ptr<relay_conn> find(channel_id ch) {
    std::lock_guard lk(mu_);
    auto it = conns_.find(ch);
    return it == conns_.end() ? nullptr : it->second;
  }
  p2p::relay_client_callbacks callbacks() {
    p2p::relay_client_callbacks cb;
    cb.on_channel_open = [this](channel_id ch, const peer_id& peer, bool inbound) {
      if (!inbound) {
        if (auto c = find(ch)) c->writable(true);  // a dial's circuit: frames may go now
        return;
      }
      auto c = std::make_shared<relay_conn>(rc_.get(), ch, local(), "/p2p-circuit/p2p/" + peer.str(), peer,
                                            lim_.queue_bytes, true);
      std::shared_ptr<transport_observer> o;
      {
        std::lock_guard lk(mu_);
        conns_[ch] = c;
        o = observer_;
      }
      if (o) o->on_incoming(c);
    };
    cb.on_frame = [this](channel_id ch, bytes f) {
      auto c = find(ch);
      if (c && !c->deliver(std::move(f))) {
        c->closed(error{errc::would_block, "relay_v2: receive queue above queue_bytes; connection dropped"});
        (void) rc_->close(ch);
      }
    };
    cb.on_remote_closed = [this](channel_id ch) {
      // The peer has nothing more to send, but may still read: our half stays open a moment for what we owe it.
      // Acks leave only once their messages are durable, so a peer that sends, closes its half and reads (as the
      // spec allows, aqua-msg.md "Closing") got none when our half closed at once. Then the stream goes.
      if (!find(ch)) return;
      rc_->host().add_timer(fin_grace_ms, [this, ch] {
        if (auto c = find(ch)) {
          c->closed(error{errc::connection_closed, "closed by the peer"});
          (void) rc_->close(ch);  // our half too: the stream is then gone
        }
      });
    };
    cb.on_channel_closed = [this](channel_id ch, const error& e) {
      std::shared_ptr<relay_conn> c;
      {
        std::lock_guard lk(mu_);
        auto it = conns_.find(ch);
        if (it == conns_.end()) return;
        c = it->second;
        conns_.erase(it);
      }
      c->closed(e);
    };
    cb.on_writable = [this](channel_id ch) {
      if (auto c = find(ch)) c->writable();
    };
    // Mail a relay held for us goes to the node; the relay deletes it once the node says done(ok).
    cb.on_held = [this](bytes frame, const peer_id& depositor, std::function<void(result<void>)> done) {
      auto h = host_;
      if (!h) return done(error{errc::not_running, "relay_v2: no transport host"});
      h->deliver_held(std::move(frame), depositor, std::move(done));
    };
    return cb;
  }

  limits lim_;
  std::mutex mu_;
  std::shared_ptr<transport_observer> observer_;
  std::shared_ptr<transport_host> host_;
  std::unique_ptr<p2p::relay_client> rc_;
  std::optional<error> start_error_;
  std::map<channel_id, std::shared_ptr<relay_conn>> conns_;
};

} // namespace

result<std::unique_ptr<transport>> make_relay_v2(const transport_config& cfg) {
  limits lim;
  for (const auto& [key, value] : cfg.settings) {
    if (key == "relays") {
      lim.relays = detail::split_trimmed(value, ',', detail::max_relays_setting);
    } else if (key == "max_frame_bytes" || key == "queue_bytes") {
      auto r = parse_setting(key, value, 1, std::size_t{1} << 32);
      if (!r) return r.err();
      (key == "max_frame_bytes" ? lim.max_frame : lim.queue_bytes) = *r;
    } else if (key == "listen_timeout_ms") {
      auto r = parse_setting(key, value, 0, 600000);
      if (!r) return r.err();
      lim.listen_timeout_ms = static_cast<std::int64_t>(*r);
    } else if (key == "ping_interval_ms" || key == "ping_timeout_ms") {
      auto r = parse_setting(key, value, 0, 3600000);
      if (!r) return r.err();
      (key == "ping_interval_ms" ? lim.ping_interval_ms : lim.ping_timeout_ms) = static_cast<std::int64_t>(*r);
    } else {
      return error{errc::config_unknown_key, "unknown setting '" + key +
                                                 "' (relay_v2 knows relays, max_frame_bytes, queue_bytes, "
                                                 "listen_timeout_ms, ping_interval_ms, ping_timeout_ms)"};
    }
  }
  // The relay answers each ping within one interval: a timeout at or below it would close live connections.
  if (lim.ping_timeout_ms > 0 && (lim.ping_interval_ms == 0 || lim.ping_timeout_ms <= lim.ping_interval_ms))
    return error{errc::config_bad_value,
                 "setting ping_timeout_ms (" + std::to_string(lim.ping_timeout_ms) +
                   ") needs pings and must be more than ping_interval_ms (" + std::to_string(lim.ping_interval_ms) +
                   "): a quiet but live relay connection hears only the answers to our pings (set ping_timeout_ms "
                   "to 0 to never close a silent one)"};
  if (lim.max_frame > lim.queue_bytes)
    return error{errc::config_bad_value, "setting max_frame_bytes must not exceed queue_bytes"};
  // Addresses start() or listen() would refuse, refused here (nothing is dialled): `aqua config check` catches them.
  for (const auto& r : lim.relays)
    if (auto checked = p2p::relay_client::check_relay_address(r); !checked)
      return error{errc::config_bad_value, "setting relays: " + checked.err().message()};
  for (std::size_t i = 0; i < cfg.listen.size(); ++i) {
    const auto& a = cfg.listen[i];
    if (auto r = check_listen_address(a); !r)
      return error{errc::config_bad_address, "listen[" + std::to_string(i) + "]: " + r.err().message()};
    const std::string relay = a.substr(0, a.size() - circuit_suffix.size());
    if (relay.empty() && lim.relays.empty())
      return error{errc::config_bad_address, "listen[" + std::to_string(i) + "]: /p2p-circuit reserves on the relays "
                                             "of the relays setting, and there are none: set relays, or name the "
                                             "relay (/ip4/A/tcp/P/p2p/RELAY/p2p-circuit)"};
    if (!relay.empty())
      if (auto r = p2p::relay_client::check_relay_address(relay); !r)
        return error{errc::config_bad_address, "listen[" + std::to_string(i) + "]: " + r.err().message()};
  }
  return std::unique_ptr<transport>(new relay_v2_transport(std::move(lim)));
}

} // namespace aqua::relayt

AQUA_TRANSPORT_PLUGIN(relay_v2, aqua::relayt::make_relay_v2)
