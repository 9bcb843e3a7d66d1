// libFuzzer builds only: seed the corpus directory (the first non-flag
// argument) with the target's aqua_fuzz_seeds() before libFuzzer reads it.

#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (int i = 1; i < *argc; ++i) {
    std::string arg = (*argv)[i];
    if (arg.empty() || arg[0] == '-') continue;
    std::filesystem::create_directories(arg);
    int n = 0;
    for (auto& s : aqua_fuzz_seeds()) {
      std::ofstream out(std::filesystem::path(arg) / ("seed-" + std::to_string(n++)), std::ios::binary);
      out.write(reinterpret_cast<const char*>(s.data()), static_cast<std::streamsize>(s.size()));
    }
    break;
  }
  return 0;
}
