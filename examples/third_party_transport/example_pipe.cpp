// A minimal third-party transport: in-process pipes between /memory/<name>
// endpoints, with a fixed bound of 64 queued frames per direction.
// It shows the whole plugin contract in one file; see aqua/transport.hpp.

#include <aqua/plugin.hpp>

#include <deque>
#include <map>
#include <mutex>

namespace {

constexpr std::size_t queue_limit = 64;

struct shared_pipe {
  std::mutex m;
  std::deque<aqua::bytes> q[2];  // q[i]: frames waiting for side i
  std::shared_ptr<aqua::connection_observer> obs[2];
  bool closed = false;
};

class end_point : public aqua::connection {
 public:
  end_point(std::shared_ptr<shared_pipe> p, int side, std::string remote) : p_(std::move(p)), side_(side), remote_(std::move(remote)) {}
  ~end_point() override { close(); }
  std::string local_address() const override { return "/memory/example-" + std::to_string(side_); }
  std::string remote_address() const override { return remote_; }
  void set_observer(std::shared_ptr<aqua::connection_observer> o) override {
    std::lock_guard<std::mutex> g(p_->m);
    p_->obs[side_] = std::move(o);
  }
  aqua::result<void> send(aqua::bytes_view frame) override {
    std::shared_ptr<aqua::connection_observer> wake;
    {
      std::lock_guard<std::mutex> g(p_->m);
      if (p_->closed) return aqua::error{aqua::errc::connection_closed, "example pipe closed"};
      auto& q = p_->q[1 - side_];
      if (q.size() >= queue_limit) return aqua::error{aqua::errc::would_block, "example pipe full"};
      q.emplace_back(frame.begin(), frame.end());
      wake = p_->obs[1 - side_];
    }
    if (wake) wake->on_readable();
    return aqua::ok();
  }
  std::optional<aqua::bytes> try_receive() override {
    std::shared_ptr<aqua::connection_observer> wake;
    std::optional<aqua::bytes> out;
    {
      std::lock_guard<std::mutex> g(p_->m);
      auto& q = p_->q[side_];
      if (q.empty()) return std::nullopt;
      out = std::move(q.front());
      q.pop_front();
      if (q.size() == queue_limit - 1) wake = p_->obs[1 - side_];
    }
    if (wake) wake->on_writable();
    return out;
  }
  void close() override {
    std::shared_ptr<aqua::connection_observer> wake;
    {
      std::lock_guard<std::mutex> g(p_->m);
      if (p_->closed) return;
      p_->closed = true;
      wake = p_->obs[1 - side_];
    }
    if (wake) wake->on_closed(aqua::error{aqua::errc::connection_closed, "closed by peer"});
  }
  bool is_open() const override {
    std::lock_guard<std::mutex> g(p_->m);
    return !p_->closed;
  }

 private:
  std::shared_ptr<shared_pipe> p_;
  int side_;
  std::string remote_;
};

class example_transport : public aqua::transport {
 public:
  std::string plugin_name() const override { return "example_pipe"; }
  void start(std::shared_ptr<aqua::transport_observer> o, std::shared_ptr<aqua::transport_host>) override {
    observer_ = std::move(o);
  }
  aqua::result<std::string> listen(const std::string& address) override {
    std::lock_guard<std::mutex> g(registry_mutex());
    if (!registry().emplace(address, this).second) return aqua::error{aqua::errc::address_in_use, address};
    addresses_.push_back(address);
    return address;
  }
  aqua::result<std::shared_ptr<aqua::connection>> dial(const std::string& address) override {
    std::lock_guard<std::mutex> g(registry_mutex());
    auto it = registry().find(address);
    if (it == registry().end() || !it->second->observer_)
      return aqua::error{aqua::errc::connection_refused, "nobody listens on " + address};
    auto p = std::make_shared<shared_pipe>();
    it->second->observer_->on_incoming(std::make_shared<end_point>(p, 1, "dialer"));
    return std::shared_ptr<aqua::connection>(std::make_shared<end_point>(p, 0, address));
  }
  std::vector<std::string> listen_addresses() const override { return addresses_; }
  void stop() override {
    std::lock_guard<std::mutex> g(registry_mutex());
    for (auto& a : addresses_) registry().erase(a);
    addresses_.clear();
  }
  ~example_transport() override { stop(); }

 private:
  static std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
  }
  static std::map<std::string, example_transport*>& registry() {
    static std::map<std::string, example_transport*> r;
    return r;
  }
  std::shared_ptr<aqua::transport_observer> observer_;
  std::vector<std::string> addresses_;
};

aqua::result<std::unique_ptr<aqua::transport>> make_example(const aqua::transport_config& cfg) {
  if (!cfg.settings.empty())
    return aqua::error{aqua::errc::config_unknown_key, "example_pipe takes no settings"};
  return std::unique_ptr<aqua::transport>(new example_transport());
}

} // namespace

AQUA_TRANSPORT_PLUGIN(example_pipe, make_example)
