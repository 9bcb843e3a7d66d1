#pragma once
// The "zmq" transport plugin (private to the plugin): direct connections
// over tcp multiaddrs (/ip4/A/tcp/P, /ip6/A/tcp/P, /dns4|dns6|dns/H/tcp/P,
// with an optional /p2p/ID naming the peer to authenticate). One I/O thread
// owns every ZeroMQ socket: a ROUTER per listen address, a DEALER per dial.
// Other threads talk to it through bounded per-connection queues and an
// inproc wake-up socket. Every connection is a Noise XX secure link
// (zmq_link.hpp) bound to the node's identity.

#include <aqua/transport.hpp>

#include <zmq.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <thread>

#include "zmq_link.hpp"

namespace aqua::zmqt {

class zmq_transport : public transport {
 public:
  explicit zmq_transport(limits lim);
  ~zmq_transport() override;

  std::string plugin_name() const override { return "zmq"; }
  void start(std::shared_ptr<transport_observer> observer, std::shared_ptr<transport_host> host) override;
  result<std::string> listen(const std::string& address) override;
  result<std::shared_ptr<connection>> dial(const std::string& address) override;
  std::vector<std::string> listen_addresses() const override;
  void stop() override;

 private:
  struct listener {
    std::unique_ptr<zmq::socket_t> sock;
    std::string address;
    std::map<std::string, link> peers;  // routing id -> link
  };
  struct dealer {
    std::unique_ptr<zmq::socket_t> sock;
    link l;
  };

  void configure(zmq::socket_t& s, bool v6);
  void wake();
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

  // zmq_io.cpp: the I/O thread.
  void loop();
  void housekeeping();
  enum class sent { ok, would_block, unreachable };
  // Sends a multipart message (after `rid` for ROUTERs) without blocking.
  sent send_parts(zmq::socket_t& s, const std::string* rid, const parts& p);
  void flush(zmq::socket_t& s, link& l, const std::string* rid);
  void on_router_message(listener& l, const std::string& rid, std::vector<zmq::message_t>& msg);
  void on_dealer_message(dealer& d, std::vector<zmq::message_t>& msg);
  void fail_link(link& l, const error& why);
  std::shared_ptr<transport_observer> observer() const;

  limits lim_;
  zmq::context_t ctx_;
  zmq::socket_t wake_push_;
  zmq::socket_t wake_pull_;
  std::mutex wake_mutex_;
  std::mutex cmd_mutex_;
  std::vector<std::function<void()>> commands_;
  mutable std::mutex obs_mutex_;
  std::shared_ptr<transport_observer> observer_;
  std::shared_ptr<transport_host> host_;
  std::vector<std::string> addresses_;
  std::vector<listener> listeners_;  // I/O thread only
  std::vector<dealer> dealers_;      // I/O thread only
  std::atomic<bool> running_{true};
  std::thread io_;
};

} // namespace aqua::zmqt
