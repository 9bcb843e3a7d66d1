// The "zmq" transport plugin: direct connections over tcp multiaddrs
// (/ip4/A/tcp/P, /ip6/A/tcp/P, /dns4|dns6|dns/H/tcp/P; a trailing /p2p/ID is
// accepted). One I/O thread owns every ZeroMQ socket: a ROUTER per listen
// address, a DEALER per dial. Other threads talk to it through bounded
// per-connection queues and an inproc wake-up socket.
//
// Not yet here (the `aqua serve` daemon issue): authenticating the peer's
// identity at connect time. Messages are end-to-end authenticated by the
// envelope layer regardless.

#include <aqua/multiaddr.hpp>
#include <aqua/plugin.hpp>

#include <zmq.hpp>

#include <atomic>
#include <future>
#include <map>
#include <thread>

#include "zmq_connection.hpp"

namespace aqua::zmqt {
namespace {

result<std::pair<std::string, bool>> to_endpoint(const std::string& address, bool for_bind) {
  auto ma = multiaddr::parse(address);
  if (!ma) return ma.err();
  auto& p = ma->parts();
  if (p.size() < 2 || p[1].protocol != "tcp")
    return error{errc::bad_address, "zmq transport needs /ip4|ip6|dns*/HOST/tcp/PORT, got '" + address + "'"};
  std::string host = p[0].value;
  bool v6 = p[0].protocol == "ip6" || p[0].protocol == "dns6";
  if (p[0].protocol == "ip6") host = "[" + host + "]";
  else if (p[0].protocol != "ip4" && p[0].protocol.rfind("dns", 0) != 0)
    return error{errc::bad_address, "zmq transport cannot use /" + p[0].protocol + " in '" + address + "'"};
  std::string port = p[1].value == "0" && for_bind ? "*" : p[1].value;
  if (!for_bind && p[1].value == "0") return error{errc::bad_address, "cannot dial port 0 in '" + address + "'"};
  return std::make_pair("tcp://" + host + ":" + port, v6);
}

std::string to_multiaddr(const std::string& endpoint, bool v6) {
  // tcp://127.0.0.1:5555 or tcp://[::1]:5555
  auto hp = endpoint.substr(6);
  auto colon = hp.rfind(':');
  auto host = hp.substr(0, colon);
  if (v6 && host.size() > 2) host = host.substr(1, host.size() - 2);
  return std::string(v6 ? "/ip6/" : "/ip4/") + host + "/tcp/" + hp.substr(colon + 1);
}

class zmq_transport : public transport {
 public:
  explicit zmq_transport(limits lim) : lim_(lim), ctx_(1), wake_push_(ctx_, zmq::socket_type::push) {
    wake_pull_ = zmq::socket_t(ctx_, zmq::socket_type::pull);
    auto ep = "inproc://aqua-zmq-wake-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    wake_pull_.bind(ep);
    wake_push_.set(zmq::sockopt::sndhwm, 0);
    wake_push_.connect(ep);
    io_ = std::thread([this] { loop(); });
  }
  ~zmq_transport() override {
    stop();
    running_ = false;
    wake();
    if (io_.joinable()) io_.join();
  }

  std::string plugin_name() const override { return "zmq"; }
  void start(std::shared_ptr<transport_observer> observer) override {
    std::lock_guard<std::mutex> g(obs_mutex_);
    observer_ = std::move(observer);
  }

  result<std::string> listen(const std::string& address) override {
    auto ep = to_endpoint(address, true);
    if (!ep) return ep.err();
    return run_in_io<std::string>([this, ep = *ep, address]() -> result<std::string> {
      auto s = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::router);
      configure(*s, ep.second);
      s->set(zmq::sockopt::router_mandatory, 1);
      try {
        s->bind(ep.first);
      } catch (const zmq::error_t& e) {
        return error{e.num() == EADDRINUSE ? errc::address_in_use : errc::bad_address,
                     "cannot listen on " + address + ": " + e.what()};
      }
      auto bound = to_multiaddr(s->get(zmq::sockopt::last_endpoint), ep.second);
      listeners_.push_back({std::move(s), bound, {}});
      std::lock_guard<std::mutex> g(obs_mutex_);
      addresses_.push_back(bound);
      return bound;
    });
  }

  result<std::shared_ptr<connection>> dial(const std::string& address) override {
    auto ep = to_endpoint(address, false);
    if (!ep) return ep.err();
    return run_in_io<std::shared_ptr<connection>>([this, ep = *ep, address]() -> result<std::shared_ptr<connection>> {
      auto s = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
      configure(*s, ep.second);
      try {
        s->connect(ep.first);  // asynchronous: ZeroMQ connects and reconnects with backoff
      } catch (const zmq::error_t& e) {
        return error{errc::bad_address, "cannot dial " + address + ": " + e.what()};
      }
      auto c = std::make_shared<zconn>(lim_, "dialer", address, [this] { wake(); });
      dealers_.push_back({std::move(s), c});
      return std::shared_ptr<connection>(c);
    });
  }

  std::vector<std::string> listen_addresses() const override {
    std::lock_guard<std::mutex> g(obs_mutex_);
    return addresses_;
  }

  void stop() override {
    if (!running_) return;
    run_in_io<bool>([this]() -> result<bool> {
      for (auto& d : dealers_) d.conn->mark_closed(error{errc::connection_closed, "transport stopped"});
      for (auto& l : listeners_)
        for (auto& [rid, c] : l.peers) c->mark_closed(error{errc::connection_closed, "transport stopped"});
      dealers_.clear();
      listeners_.clear();
      return true;
    });
    std::lock_guard<std::mutex> g(obs_mutex_);
    observer_.reset();
    addresses_.clear();
  }

 private:
  struct listener {
    std::unique_ptr<zmq::socket_t> sock;
    std::string address;
    std::map<std::string, std::shared_ptr<zconn>> peers;  // routing id -> connection
  };
  struct dealer {
    std::unique_ptr<zmq::socket_t> sock;
    std::shared_ptr<zconn> conn;
  };

  void configure(zmq::socket_t& s, bool v6) {
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::sndhwm, lim_.hwm);
    s.set(zmq::sockopt::rcvhwm, lim_.hwm);
    s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(lim_.max_frame_bytes));
    s.set(zmq::sockopt::reconnect_ivl, lim_.reconnect_ivl_ms);
    s.set(zmq::sockopt::reconnect_ivl_max, lim_.reconnect_ivl_max_ms);
    if (v6) s.set(zmq::sockopt::ipv6, 1);
  }

  void wake() {
    std::lock_guard<std::mutex> g(wake_mutex_);
    wake_push_.send(zmq::const_buffer("", 0), zmq::send_flags::dontwait);
  }

  template <class T>
  result<T> run_in_io(std::function<result<T>()> fn) {
    if (std::this_thread::get_id() == io_.get_id()) return fn();
    auto p = std::make_shared<std::promise<result<T>>>();
    auto fut = p->get_future();
    {
      std::lock_guard<std::mutex> g(cmd_mutex_);
      commands_.push_back([fn, p] { p->set_value(fn()); });
    }
    wake();
    return fut.get();
  }

  void flush(zmq::socket_t& s, zconn& c, const std::string* rid) {
    bytes f;
    while (c.next_outbound(f)) {
      try {
        if (rid && !s.send(zmq::buffer(*rid), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return;
        if (!s.send(zmq::buffer(f), zmq::send_flags::dontwait)) return;
      } catch (const zmq::error_t& e) {
        if (e.num() == EHOSTUNREACH) c.mark_closed(error{errc::connection_closed, "peer disconnected"});
        return;
      }
      c.pop_outbound();
    }
  }

  void accept_frame(listener& l, std::string rid, bytes frame) {
    auto& c = l.peers[rid];
    if (!c) {
      c = std::make_shared<zconn>(lim_, l.address, "zmq-peer", [this] { wake(); });
      std::shared_ptr<transport_observer> obs;
      {
        std::lock_guard<std::mutex> g(obs_mutex_);
        obs = observer_;
      }
      if (obs) obs->on_incoming(c);
    }
    c->push_inbound(std::move(frame));
  }

  void loop() {
    while (running_) {
      std::vector<std::function<void()>> cmds;
      {
        std::lock_guard<std::mutex> g(cmd_mutex_);
        cmds.swap(commands_);
      }
      for (auto& c : cmds) c();
      // Connections the node closed go away here, in the socket-owning thread.
      for (auto it = dealers_.begin(); it != dealers_.end();)
        it = it->conn->close_requested() ? dealers_.erase(it) : std::next(it);
      for (auto& l : listeners_)
        for (auto it = l.peers.begin(); it != l.peers.end();) it = it->second->close_requested() ? l.peers.erase(it) : std::next(it);
      for (auto& d : dealers_) flush(*d.sock, *d.conn, nullptr);
      for (auto& l : listeners_)
        for (auto& [rid, c] : l.peers) flush(*l.sock, *c, &rid);

      std::vector<zmq::pollitem_t> items{{wake_pull_.handle(), 0, ZMQ_POLLIN, 0}};
      for (auto& l : listeners_) {
        bool full = false;
        for (auto& [rid, c] : l.peers) full = full || c->inbound_full();
        items.push_back({l.sock->handle(), 0, static_cast<short>(full ? 0 : ZMQ_POLLIN), 0});
      }
      for (auto& d : dealers_) {
        bytes dummy;
        short ev = static_cast<short>((d.conn->inbound_full() ? 0 : ZMQ_POLLIN) | (d.conn->next_outbound(dummy) ? ZMQ_POLLOUT : 0));
        items.push_back({d.sock->handle(), 0, ev, 0});
      }
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
      if (items[0].revents & ZMQ_POLLIN) {
        zmq::message_t m;
        while (wake_pull_.recv(m, zmq::recv_flags::dontwait)) {
        }
      }
      std::size_t i = 1;
      for (auto& l : listeners_) {
        if (items[i++].revents & ZMQ_POLLIN) {
          for (int n = 0; n < 256; ++n) {
            zmq::message_t rid, body;
            if (!l.sock->recv(rid, zmq::recv_flags::dontwait)) break;
            if (!rid.more() || !l.sock->recv(body, zmq::recv_flags::dontwait)) continue;
            while (body.more()) {  // aqua frames are single-part: of a multipart message only the last part is kept
              zmq::message_t extra;
              if (!l.sock->recv(extra, zmq::recv_flags::dontwait)) break;
              body.swap(extra);
            }
            accept_frame(l, rid.to_string(), bytes(body.data<std::uint8_t>(), body.data<std::uint8_t>() + body.size()));
          }
        }
      }
      for (auto& d : dealers_) {
        if (items[i++].revents & ZMQ_POLLIN) {
          for (int n = 0; n < 256 && !d.conn->inbound_full(); ++n) {
            zmq::message_t body;
            if (!d.sock->recv(body, zmq::recv_flags::dontwait)) break;
            d.conn->push_inbound(bytes(body.data<std::uint8_t>(), body.data<std::uint8_t>() + body.size()));
          }
        }
      }
    }
  }

  limits lim_;
  zmq::context_t ctx_;
  zmq::socket_t wake_push_;
  zmq::socket_t wake_pull_;
  std::mutex wake_mutex_;
  std::mutex cmd_mutex_;
  std::vector<std::function<void()>> commands_;
  mutable std::mutex obs_mutex_;
  std::shared_ptr<transport_observer> observer_;
  std::vector<std::string> addresses_;
  std::vector<listener> listeners_;  // I/O thread only
  std::vector<dealer> dealers_;      // I/O thread only
  std::atomic<bool> running_{true};
  std::thread io_;
};

} // namespace

result<std::unique_ptr<transport>> make_zmq(const transport_config& cfg) {
  limits lim;
  for (auto& [key, value] : cfg.settings) {
    std::size_t v = 0;
    if (key == "queue_frames" || key == "queue_bytes" || key == "max_frame_bytes") {
      auto r = parse_setting(key, value, 1, std::size_t{1} << 32);
      if (!r) return r.err();
      v = *r;
      (key == "queue_frames" ? lim.queue_frames : key == "queue_bytes" ? lim.queue_bytes : lim.max_frame_bytes) = v;
    } else if (key == "hwm" || key == "reconnect_ivl_ms" || key == "reconnect_ivl_max_ms") {
      auto r = parse_setting(key, value, 1, 1000000);
      if (!r) return r.err();
      (key == "hwm" ? lim.hwm : key == "reconnect_ivl_ms" ? lim.reconnect_ivl_ms : lim.reconnect_ivl_max_ms) =
        static_cast<int>(*r);
    } else {
      return error{errc::config_unknown_key, "unknown setting '" + key +
                                                 "' (zmq knows queue_frames, queue_bytes, max_frame_bytes, hwm, "
                                                 "reconnect_ivl_ms, reconnect_ivl_max_ms)"};
    }
  }
  if (lim.max_frame_bytes > lim.queue_bytes)
    return error{errc::config_bad_value, "setting max_frame_bytes must not exceed queue_bytes"};
  return std::unique_ptr<transport>(new zmq_transport(lim));
}

} // namespace aqua::zmqt

AQUA_TRANSPORT_PLUGIN(zmq, aqua::zmqt::make_zmq)
