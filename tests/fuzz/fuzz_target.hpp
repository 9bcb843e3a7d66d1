#pragma once
// Every fuzz target defines LLVMFuzzerTestOneInput (libFuzzer's entry point)
// and aqua_fuzz_seeds() (valid inputs to start mutating from). Built with
// clang and -DAQUA_LIBFUZZER=ON they are libFuzzer binaries; otherwise they
// link fuzz_driver.cpp, a deterministic mutation driver that CI runs for a
// bounded number of iterations. See docs/fuzzing.md.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds();
// Optional: a target with state that must not outlive main (a running node)
// defines it; the deterministic driver calls it after the last input.
extern "C" __attribute__((weak)) void aqua_fuzz_teardown();

// A property violation: print and abort so both drivers report it.
#define AQUA_FUZZ_CHECK(cond)                                                    \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "fuzz property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                              \
    }                                                                            \
  } while (0)
