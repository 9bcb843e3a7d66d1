#pragma once
// Test helper: polls `cond` until it holds or `limit` passes, then checks it
// once more — the bounded wait for state another thread sets.

#include <chrono>
#include <thread>

namespace aqua::test {

template <class F>
bool eventually(F&& cond, std::chrono::milliseconds limit = std::chrono::seconds(5),
                std::chrono::milliseconds step = std::chrono::milliseconds(5)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(step);
  }
  return cond();
}

} // namespace aqua::test
