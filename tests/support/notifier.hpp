#pragma once
// Test helper: state written by callbacks on other threads, and waited for.
// Derive from it; change recorded state only inside set(), read it in wait()'s
// predicate (both under `mu`).

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace aqua::test {

struct notifier {
  std::mutex mu;
  std::condition_variable cv;

  template <class F>
  void set(F f) {
    std::lock_guard lk(mu);
    f();
    cv.notify_all();
  }
  template <class P>
  bool wait(P p, std::chrono::milliseconds d = std::chrono::milliseconds(5000)) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, d, [&] { return p(); });
  }
};

} // namespace aqua::test
