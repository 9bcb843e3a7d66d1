#pragma once
// The number of threads this process runs now (/proc/self/task), for tests
// that bound how many threads a component adds.

#include <cstddef>
#include <filesystem>

namespace aqua::test {

inline std::size_t threads_now() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

} // namespace aqua::test
