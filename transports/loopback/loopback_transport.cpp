// The "loopback" transport plugin: real connection semantics between nodes
// in one process, addressed as /memory/<name>. The listener registry is a
// process-wide hub inside this shared library (it is loaded once per process).

#include <aqua/multiaddr.hpp>
#include <aqua/plugin.hpp>

#include <atomic>
#include <map>

#include "loopback_pipe.hpp"

namespace aqua::loopback {
namespace {

class loopback_transport;

struct hub {
  std::mutex mutex;
  std::map<std::string, loopback_transport*> listeners;
  static hub& get() {
    static hub h;
    return h;
  }
};

result<std::string> memory_name(const std::string& address) {
  auto ma = multiaddr::parse(address);
  if (!ma) return ma.err();
  if (ma->parts().empty() || ma->parts()[0].protocol != "memory")
    return error{errc::bad_address, "loopback transport only handles /memory/<name> addresses, got '" + address + "'"};
  return ma->parts()[0].value;
}

class loopback_transport : public transport {
 public:
  explicit loopback_transport(limits lim) : limits_(lim) {}
  ~loopback_transport() override { stop(); }

  std::string plugin_name() const override { return "loopback"; }

  void start(std::shared_ptr<transport_observer> observer, std::shared_ptr<transport_host>) override {
    // Same process: nothing to authenticate; frames are E2EE envelopes anyway.
    std::lock_guard<std::mutex> guard(mutex_);
    observer_ = std::move(observer);
  }

  result<std::string> listen(const std::string& address) override {
    auto name = memory_name(address);
    if (!name) return name.err();
    auto& h = hub::get();
    std::lock_guard<std::mutex> guard(h.mutex);
    if (h.listeners.count(*name)) return error{errc::address_in_use, "'" + address + "' is already listened on in this process"};
    h.listeners[*name] = this;
    std::lock_guard<std::mutex> g2(mutex_);
    names_.push_back(*name);
    return "/memory/" + *name;
  }

  result<std::shared_ptr<connection>> dial(const std::string& address) override {
    auto name = memory_name(address);
    if (!name) return name.err();
    auto& h = hub::get();
    std::lock_guard<std::mutex> guard(h.mutex);
    auto it = h.listeners.find(*name);
    if (it == h.listeners.end()) return error{errc::connection_refused, "nobody listens on '" + address + "'"};
    auto p = std::make_shared<pipe>(limits_);
    auto local = "/memory/" + *name + "/dialer/" + std::to_string(next_dial_id());
    auto ours = std::make_shared<connection_end>(p, 0, local, "/memory/" + *name);
    auto theirs = std::make_shared<connection_end>(p, 1, "/memory/" + *name, local);
    if (!it->second->accept(theirs)) return error{errc::connection_refused, "'" + address + "' is not accepting"};
    return std::shared_ptr<connection>(ours);
  }

  std::vector<std::string> listen_addresses() const override {
    std::lock_guard<std::mutex> guard(mutex_);
    std::vector<std::string> out;
    for (auto& n : names_) out.push_back("/memory/" + n);
    return out;
  }

  void stop() override {
    auto& h = hub::get();
    std::lock_guard<std::mutex> guard(h.mutex);
    std::lock_guard<std::mutex> g2(mutex_);
    for (auto& n : names_) h.listeners.erase(n);
    names_.clear();
    observer_.reset();
  }

 private:
  // Called with the hub lock held.
  bool accept(std::shared_ptr<connection> conn) {
    std::shared_ptr<transport_observer> obs;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      obs = observer_;
    }
    if (!obs) return false;
    obs->on_incoming(std::move(conn));
    return true;
  }

  static std::uint64_t next_dial_id() {
    static std::atomic<std::uint64_t> counter{0};
    return ++counter;
  }

  limits limits_;
  mutable std::mutex mutex_;
  std::shared_ptr<transport_observer> observer_;
  std::vector<std::string> names_;
};

} // namespace

result<std::unique_ptr<transport>> make_loopback(const transport_config& cfg) {
  limits lim;
  for (auto& [key, value] : cfg.settings) {
    std::size_t* target = key == "queue_frames"      ? &lim.queue_frames
                          : key == "queue_bytes"     ? &lim.queue_bytes
                          : key == "max_frame_bytes" ? &lim.max_frame_bytes
                                                     : nullptr;
    if (target == nullptr)
      return error{errc::config_unknown_key,
                   "unknown setting '" + key + "' (loopback knows queue_frames, queue_bytes, max_frame_bytes)"};
    auto v = parse_setting(key, value, 1, std::uint64_t{1} << 32);
    if (!v) return v.err();
    *target = *v;
  }
  if (lim.max_frame_bytes > lim.queue_bytes)
    return error{errc::config_bad_value, "setting max_frame_bytes (" + std::to_string(lim.max_frame_bytes) +
                                             ") must not exceed queue_bytes (" + std::to_string(lim.queue_bytes) + ")"};
  // An address listen() would refuse, refused here (nothing is bound): `aqua config check` catches it.
  for (std::size_t i = 0; i < cfg.listen.size(); ++i)
    if (auto name = memory_name(cfg.listen[i]); !name)
      return error{errc::config_bad_address, "listen[" + std::to_string(i) + "]: " + name.err().message()};
  return std::unique_ptr<transport>(new loopback_transport(lim));
}

} // namespace aqua::loopback

AQUA_TRANSPORT_PLUGIN(loopback, aqua::loopback::make_loopback)
