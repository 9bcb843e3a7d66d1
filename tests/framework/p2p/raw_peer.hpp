#pragma once
// Test helper: one libp2p connection (tcp_host, 127.0.0.1) to a server,
// with raw streams: open a stream, write bytes, collect what comes back,
// and ask HOP requests (RESERVE, CONNECT) one message at a time. Every wait
// is bounded.

#include <condition_variable>
#include <map>
#include <mutex>

#include "p2p/relay_messages.hpp"
#include "p2p/tcp_host.hpp"

namespace aqua::test {

class raw_peer {
 public:
  struct stream_log {
    bool opened = false, closed = false, reset = false;
    bytes data;
  };

  // `config`: e.g. protocols to accept (STOP), or manual window credit (see consume()).
  raw_peer(std::uint8_t seed, std::uint16_t port, std::optional<peer_id> expected = std::nullopt,
           p2p::tcp_host_config config = {})
      : key_(keypair::from_seed(bytes(32, seed)).value()) {
    p2p::tcp_host_callbacks cb;
    cb.on_established = [this](p2p::conn_id, const peer_id&, bool) { set([&] { established_ = true; }); };
    cb.on_event = [this](p2p::conn_id c, p2p::p2p_event& ev) {
      using K = p2p::p2p_event_kind;
      if (ev.kind == K::stream_opened && ev.inbound) {
        set([&] { inbound_.push_back(ev.stream_id); });
        return;
      }
      if (ev.kind == K::identified) {
        set([&] { identify_ = ev.identify; });
        return;
      }
      set([&] {
        auto& s = streams_[ev.stream_id];
        if (ev.kind == K::stream_opened) s.opened = true;
        if (ev.kind == K::stream_data) s.data.insert(s.data.end(), ev.data.begin(), ev.data.end());
        if (ev.kind == K::stream_closed) s.closed = true;
        if (ev.kind == K::stream_reset) s.reset = true;
      });
      (void) c;
    };
    cb.on_closed = [this](p2p::conn_id, const error&) { set([&] { gone_ = true; }); };
    host_ = std::make_unique<p2p::tcp_host>(key_, system_env(), std::move(config), cb);
    (void) host_->start();
    p2p::dial_options opts;
    opts.expected = expected;
    opts.identify = true;
    conn_ = host_->call([&] { return host_->dial("127.0.0.1", port, opts); }).value();
  }
  ~raw_peer() { host_->stop(); }

  const keypair& key() const { return key_; }
  // Its loop, e.g. for a loop_blocker: a peer that reads and answers nothing while blocked.
  p2p::tcp_host& host() { return *host_; }
  peer_id id() const { return key_.id(); }
  bool wait_established() { return wait([&] { return established_; }); }
  bool wait_gone() { return wait([&] { return gone_; }); }
  std::optional<p2p::identify_info> identify() {
    wait([&] { return identify_.has_value(); });
    std::lock_guard lk(mu_);
    return identify_;
  }

  result<std::uint32_t> open(const std::string& protocol) {
    return host_->call([&] { return host_->open_stream(conn_, {protocol}); });
  }
  void write(std::uint32_t s, bytes_view data) {
    bytes copy(data.begin(), data.end());
    host_->call([&] { (void) host_->write(conn_, s, copy); });
  }
  // Bytes the stream took (fewer than offered when its windows and queue are full).
  std::size_t write_some(std::uint32_t s, bytes_view data) {
    auto n = host_->call([&] { return host_->write(conn_, s, data); });
    return n ? *n : 0;
  }
  // Window credit for n received bytes (tcp_host_config with window_update_on_delivery = false).
  void consume(std::uint32_t s, std::size_t n) {
    host_->call([&] { host_->consumed(conn_, s, n); });
  }
  // The first stream the server opened to us (e.g. STOP), if one comes within 5 s.
  std::optional<std::uint32_t> wait_inbound() {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, std::chrono::seconds(5), [&] { return !inbound_.empty(); })) return std::nullopt;
    return inbound_.front();
  }
  void close_stream(std::uint32_t s) {
    host_->call([&] { (void) host_->close_stream(conn_, s); });
  }
  void close() {
    host_->call([&] { host_->close(conn_, error{errc::connection_closed, "test"}); });
  }
  // Waits until `pred(log of stream s)` holds; returns a copy of the log.
  template <class P>
  std::optional<stream_log> wait_stream(std::uint32_t s, P pred, std::chrono::milliseconds d = std::chrono::seconds(5)) {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, d, [&] { return pred(streams_[s]); })) return std::nullopt;
    return streams_[s];
  }

  // One HOP request on a new stream; the answer (or an error after 5 s / a reset).
  result<p2p::relay::hop_message> hop(const p2p::relay::hop_message& m) {
    auto s = open(std::string(p2p::relay::hop_protocol_id));
    if (!s) return s.err();
    write(*s, p2p::relay::frame(p2p::relay::encode(m)).value());
    auto log = wait_stream(*s, [](const stream_log& l) {
      p2p::relay::delimited_reader r;
      r.feed(l.data);
      auto n = r.next();
      return l.reset || !n || n->has_value();
    });
    if (!log) return error{errc::timeout, "no HOP answer"};
    p2p::relay::delimited_reader r;
    r.feed(log->data);
    auto n = r.next();
    if (!n || !*n) return error{errc::connection_closed, "HOP stream reset"};
    return p2p::relay::decode_hop(**n);
  }

  template <class P>
  bool wait(P pred, std::chrono::milliseconds d = std::chrono::seconds(5)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, d, [&] { return pred(); });
  }

 private:
  template <class F>
  void set(F f) {
    std::lock_guard lk(mu_);
    f();
    cv_.notify_all();
  }

  keypair key_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool established_ = false, gone_ = false;
  std::map<std::uint32_t, stream_log> streams_;
  std::vector<std::uint32_t> inbound_;
  std::optional<p2p::identify_info> identify_;
  std::unique_ptr<p2p::tcp_host> host_;
  p2p::conn_id conn_ = 0;
};

} // namespace aqua::test
