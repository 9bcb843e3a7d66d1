// Deterministic mutation driver for fuzz targets when libFuzzer is not
// used: start from the target's seeds, apply random bit flips, byte
// changes, insertions, deletions, truncations, splices and "interesting"
// values, and call the target. Fixed seed => reproducible; bounded by
// iterations and seconds. A crash or failed property aborts the process.
//
//   <target> [iterations=200000] [seconds=20] [rng seed=1]
//   <target> FILE...        replay inputs (e.g. a crash found by libFuzzer)

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>

#include "fuzz_target.hpp"

namespace {

struct xorshift {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
};

void mutate(std::vector<std::uint8_t>& d, xorshift& r, const std::vector<std::vector<std::uint8_t>>& pool) {
  static const std::uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x24, 0x12, 0x08, 0x0a};
  int rounds = 1 + static_cast<int>(r.below(4));
  for (int i = 0; i < rounds; ++i) {
    switch (r.below(8)) {
      case 0:
        if (!d.empty()) d[r.below(d.size())] ^= static_cast<std::uint8_t>(1u << r.below(8));
        break;
      case 1:
        if (!d.empty()) d[r.below(d.size())] = static_cast<std::uint8_t>(r.next());
        break;
      case 2:
        d.insert(d.begin() + static_cast<std::ptrdiff_t>(r.below(d.size() + 1)), static_cast<std::uint8_t>(r.next()));
        break;
      case 3:
        if (!d.empty()) d.erase(d.begin() + static_cast<std::ptrdiff_t>(r.below(d.size())));
        break;
      case 4:
        d.resize(r.below(d.size() + 1));
        break;
      case 5:
        if (!d.empty()) d[r.below(d.size())] = interesting[r.below(sizeof interesting)];
        break;
      case 6: {  // splice with another seed
        auto& o = pool[r.below(pool.size())];
        if (o.empty()) break;
        auto at = r.below(d.size() + 1);
        auto from = r.below(o.size());
        auto len = r.below(o.size() - from + 1);
        d.insert(d.begin() + static_cast<std::ptrdiff_t>(at), o.begin() + static_cast<std::ptrdiff_t>(from),
                 o.begin() + static_cast<std::ptrdiff_t>(from + len));
        break;
      }
      default:  // duplicate a chunk (grows length fields' targets)
        if (!d.empty() && d.size() < 1u << 16) {
          auto from = r.below(d.size());
          auto len = r.below(d.size() - from + 1);
          std::vector<std::uint8_t> chunk(d.begin() + static_cast<std::ptrdiff_t>(from),
                                          d.begin() + static_cast<std::ptrdiff_t>(from + len));
          d.insert(d.begin() + static_cast<std::ptrdiff_t>(r.below(d.size() + 1)), chunk.begin(), chunk.end());
        }
    }
  }
}

// The input under test, written to fuzz-crash.bin if the target aborts
// (failed property) or a sanitizer/segfault kills it.
std::vector<std::uint8_t> current;

// Only async-signal-safe calls: the signal may come from inside malloc
// (heap corruption), where stdio would deadlock on the allocator's lock.
extern "C" void save_crash(int sig) {
  static const char saved[] =
    "fuzz: the input that failed is saved to fuzz-crash.bin; replay with: <target> fuzz-crash.bin\n";
  int fd = ::open("fuzz-crash.bin", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    for (std::size_t off = 0; off < current.size();) {
      auto n = ::write(fd, current.data() + off, current.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(fd);
    (void) !::write(2, saved, sizeof saved - 1);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void run_one(const std::vector<std::uint8_t>& d) {
  current = d;
  LLVMFuzzerTestOneInput(current.data(), current.size());
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]).find_first_not_of("0123456789") != std::string::npos) {
    for (int i = 1; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      std::vector<std::uint8_t> d((std::istreambuf_iterator<char>(in)), {});
      LLVMFuzzerTestOneInput(d.data(), d.size());
    }
    if (aqua_fuzz_teardown) aqua_fuzz_teardown();
    std::printf("replayed %d input(s)\n", argc - 1);
    return 0;
  }
  std::size_t iterations = argc > 1 ? std::stoul(argv[1]) : 200000;
  double seconds = argc > 2 ? std::stod(argv[2]) : 20.0;
  xorshift rng{argc > 3 ? std::stoull(argv[3]) : 1};
  std::signal(SIGABRT, save_crash);
  std::signal(SIGSEGV, save_crash);
  auto seeds = aqua_fuzz_seeds();
  seeds.push_back({});
  for (auto& s : seeds) run_one(s);
  auto start = std::chrono::steady_clock::now();
  std::size_t i = 0;
  for (; i < iterations; ++i) {
    if ((i & 1023) == 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds) break;
    auto d = seeds[rng.below(seeds.size())];
    mutate(d, rng, seeds);
    run_one(d);
  }
  if (aqua_fuzz_teardown) aqua_fuzz_teardown();
  std::printf("fuzz: %zu iterations from %zu seeds, no crash, all properties held\n", i, seeds.size());
  return 0;
}
