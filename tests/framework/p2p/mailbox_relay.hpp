#pragma once
// Test helper: a relay on a tcp_host (127.0.0.1) that grants RESERVE and
// serves /aqua/mailbox/1.0.0 through mailbox_service over a real LevelDB
// store in `dir`, driving the stream_handlers the way a stream_service
// server does. Enough to test relay_client's mailbox side without the node.
// mailbox_depositor: a relay_client that only deposits, with a given identity.

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>

#include "p2p/mailbox_messages.hpp"
#include "p2p/mailbox_service.hpp"
#include "p2p/relay_client.hpp"
#include "p2p/relay_messages.hpp"
#include "p2p/signed_envelope.hpp"
#include "p2p/tcp_host.hpp"
#include "store/held_mail.hpp"

namespace aqua::test {

class mailbox_relay {
 public:
  using skey = std::pair<p2p::conn_id, std::uint32_t>;
  mailbox_relay(std::uint8_t seed, const std::filesystem::path& dir, store::held_mail_limits limits = {})
      : key_(keypair::from_seed(bytes(32, seed)).value()) {
    db_ = std::shared_ptr<store::db>(store::db::open(dir).value().release());
    mail_ = std::shared_ptr<store::held_mail>(store::held_mail::open(db_, limits).value().release());
    p2p::tcp_host_config cfg;
    cfg.p2p.protocols = {std::string(p2p::relay::hop_protocol_id), std::string(p2p::mailbox::protocol_id)};
    p2p::tcp_host_callbacks cb;
    cb.on_event = [this](p2p::conn_id c, p2p::p2p_event& ev) { on_event(c, ev); };
    cb.on_closed = [this](p2p::conn_id c, const error&) {
      std::erase_if(handlers_, [c](auto& kv) { return kv.first.first == c; });
    };
    host_ = std::make_unique<p2p::tcp_host>(key_, system_env(), cfg, cb);
    svc_ = p2p::mailbox_service::create(mail_, system_env(), [h = host_.get()](std::function<void()> fn) {
      return h->post(std::move(fn));
    });
    service_ = svc_->service();
    (void) host_->start();
    port_ = host_->call([this] { return host_->listen("127.0.0.1", 0); }).value();
  }
  ~mailbox_relay() { stop(); }
  void stop() {
    if (!host_) return;
    host_->stop();
    handlers_.clear();
    svc_.reset();
    mail_.reset();
    db_.reset();
    host_.reset();
  }
  std::string addr() const { return "/ip4/127.0.0.1/tcp/" + std::to_string(port_) + "/p2p/" + key_.id().str(); }
  store::held_mail& mail() { return *mail_; }
  // Set before a client connects: serves mailbox streams with these handlers instead of mailbox_service (a
  // relay that breaks the protocol).
  std::function<std::unique_ptr<p2p::stream_handler>()> open_mailbox_stream;
  // Keys under m/ other than m/seq.
  std::size_t held_keys() {
    std::size_t n = 0;
    (void) db_->scan("m/", [&](std::string_view k, std::string_view) {
      n += k != "m/seq";
      return true;
    });
    return n;
  }

 private:
  struct handler {
    std::unique_ptr<p2p::stream_handler> h;
    bytes out;
  };
  void on_event(p2p::conn_id c, p2p::p2p_event& ev) {
    using K = p2p::p2p_event_kind;
    const skey k{c, ev.stream_id};
    if (ev.kind == K::stream_opened && ev.inbound && ev.protocol == p2p::mailbox::protocol_id) {
      auto* p = host_->connection(c);
      p2p::stream_context ctx{p->remote_peer(), host_->remote_address(c), false, [this, k] {
                                (void) host_->post([this, k] { drive(k); });
                              }};
      handlers_[k].h = open_mailbox_stream ? open_mailbox_stream() : service_.open(std::move(ctx));
    } else if (ev.kind == K::stream_opened && ev.inbound) {
      hop_[k];
    } else if (ev.kind == K::stream_data) {
      if (auto it = handlers_.find(k); it != handlers_.end()) {
        if (!it->second.h->on_data(ev.data)) {
          handlers_.erase(it);
          (void) host_->reset_stream(c, ev.stream_id);
          return;
        }
        drive(k);
      } else if (auto h = hop_.find(k); h != hop_.end()) {
        h->second.feed(ev.data);
        auto m = h->second.next();
        if (!m || !*m) return;
        hop_.erase(h);
        auto peer = host_->connection(c)->remote_peer();
        const std::uint64_t expire = static_cast<std::uint64_t>(system_env()->now_unix_ms() / 1000 + 3600);
        p2p::relay::reservation r{expire, {}, p2p::make_voucher(key_, peer, expire)};
        auto reply = p2p::relay::hop_status(p2p::relay::status::ok, std::nullopt, r);
        (void) host_->write(c, ev.stream_id, p2p::relay::frame(p2p::relay::encode(reply)).value());
        (void) host_->close_stream(c, ev.stream_id);
      }
    } else if (ev.kind == K::stream_closed) {
      if (auto it = handlers_.find(k); it != handlers_.end()) {
        it->second.h->on_remote_closed();
        drive(k);
      }
    } else if (ev.kind == K::stream_reset) {
      handlers_.erase(k);
    } else if (ev.kind == K::writable) {
      drive(k);
    }
  }
  void drive(skey k) {
    auto it = handlers_.find(k);
    if (it == handlers_.end()) return;
    bytes more = it->second.h->take_output();
    if (it->second.h->aborted()) {
      handlers_.erase(it);
      (void) host_->reset_stream(k.first, k.second);
      return;
    }
    it->second.out.insert(it->second.out.end(), more.begin(), more.end());
    if (!it->second.out.empty()) {
      auto n = host_->write(k.first, k.second, it->second.out);
      it = handlers_.find(k);  // the write may have closed the connection (on_closed erases its handlers)
      if (it == handlers_.end()) return;
      if (!n) {
        handlers_.erase(it);
        return;
      }
      it->second.out.erase(it->second.out.begin(), it->second.out.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    if (it->second.out.empty() && it->second.h->finished()) {
      handlers_.erase(it);
      (void) host_->close_stream(k.first, k.second);
    }
  }

  keypair key_;
  std::shared_ptr<store::db> db_;
  std::shared_ptr<store::held_mail> mail_;
  std::unique_ptr<p2p::tcp_host> host_;
  std::shared_ptr<p2p::mailbox_service> svc_;
  p2p::stream_service service_;
  std::uint16_t port_ = 0;
  std::map<skey, p2p::relay::delimited_reader> hop_;
  std::map<skey, handler> handlers_;
};

// A relay_client used only to deposit, with the identity `key`: the peer a
// mailbox relay records as the depositor.
struct mailbox_depositor {
  keypair key;  // relay_client keeps a reference
  p2p::relay_client rc;
  explicit mailbox_depositor(keypair k)
      : key(std::move(k)), rc(key, system_env(), p2p::relay_client_config{}, p2p::relay_client_callbacks{}) {
    EXPECT_TRUE(rc.start());
  }
  // Deposits `frame` for `to` on `relay` and waits (at most 15 s) for the relay's answer.
  result<void> deposit(const std::string& relay, const peer_id& to, const bytes& frame, std::uint32_t ttl = 0) {
    auto p = std::make_shared<std::promise<result<void>>>();
    auto f = p->get_future();
    rc.deposit(relay + "/p2p-circuit/p2p/" + to.str(), frame, ttl, [p](result<void> r) { p->set_value(std::move(r)); });
    if (f.wait_for(std::chrono::seconds(15)) != std::future_status::ready) return error{errc::timeout, "no answer"};
    return f.get();
  }
};

} // namespace aqua::test
