#pragma once
// Test helper: keeps an event loop's thread busy until release() (or 10 s).
// Meanwhile that loop reads nothing (e.g. no FIN), and what is posted to it
// runs as one batch afterwards, before it looks at its sockets again. Works
// with anything that has post(std::function<void()>): tcp_host, relay_server.

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>

namespace aqua::test {

struct loop_blocker {
  std::promise<void> wake;
  bool released = false;

  template <class Loop>
  explicit loop_blocker(Loop& loop) {
    auto woken = wake.get_future().share();
    auto started = std::make_shared<std::promise<void>>();
    auto busy = started->get_future();
    EXPECT_TRUE(loop.post([woken, started] {
      started->set_value();
      (void) woken.wait_for(std::chrono::seconds(10));
    }));
    (void) busy.wait_for(std::chrono::seconds(10));
  }
  loop_blocker(const loop_blocker&) = delete;
  loop_blocker& operator=(const loop_blocker&) = delete;
  void release() {
    if (!released) wake.set_value();
    released = true;
  }
  ~loop_blocker() { release(); }
};

} // namespace aqua::test
