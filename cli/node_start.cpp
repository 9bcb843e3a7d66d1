#include "node_start.hpp"

#include "output.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

namespace aqua::cli {

result<std::unique_ptr<node>> start_node_interruptibly(const node_config& cfg, const std::function<bool()>& signalled,
                                                       const std::function<void()>& interrupted) {
  struct shared {
    std::mutex m;
    std::condition_variable cv;
    std::optional<result<std::unique_ptr<node>>> started;
  };
  auto s = std::make_shared<shared>();
  std::thread starter([s, cfg] {
    auto r = node::start(cfg);
    std::lock_guard lock(s->m);
    s->started.emplace(std::move(r));
    s->cv.notify_all();
  });
  std::unique_lock lock(s->m);
  while (!s->cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return s->started.has_value(); })) {
    lock.unlock();
    if (signalled()) {
      interrupted();
      std::cout.flush();
      std::fflush(nullptr);
      std::_Exit(0);  // the starter thread and the half-started node end with the process
    }
    lock.lock();
  }
  lock.unlock();
  starter.join();
  auto& r = *s->started;
  // The key store's hint is a bare 'aqua init', which would make ~/.aqua: name the data dir this node uses.
  if (!r && r.err().code() == errc::no_identity)
    return no_identity_in(cfg.data_dir, "no secret key at '" + cfg.identity.key_file.string() + "'");
  return std::move(r);
}

} // namespace aqua::cli
