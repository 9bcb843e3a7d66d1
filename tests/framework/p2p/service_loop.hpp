#pragma once
// Test helper: a stream service's server loop (p2p/stream_service.hpp) for
// tests that drive handlers directly: post() from any thread (e.g. the
// store's committer answering a write), run_until() runs what was posted on
// the test's thread until a condition holds.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

namespace aqua::test {

struct service_loop {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> q;
  bool post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> g(mu);
      q.push_back(std::move(fn));
    }
    cv.notify_all();
    return true;
  }
  // Runs posted functions until `until` holds; false after 10 s without.
  bool run_until(const std::function<bool()>& until) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!until()) {
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_until(lock, deadline, [&] { return !q.empty(); })) return false;
      auto fn = std::move(q.front());
      q.pop_front();
      lock.unlock();
      fn();
    }
    return true;
  }
};

} // namespace aqua::test
