// bench/durable: durable (fsync'd) 1 KiB message records per second with
// group commit (many writers in flight, coalesced into one synced
// WriteBatch) vs one sync write per message, same store, same run.
//   bench_durable [group-commit messages=200000] [baseline messages=3000] [in flight=4096]

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <unistd.h>

#include "store/store.hpp"

namespace {

using clk = std::chrono::steady_clock;

std::string key_for(const char* prefix, std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%016zx", prefix, i);
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  std::size_t n_group = argc > 1 ? std::stoul(argv[1]) : 200000;
  std::size_t n_single = argc > 2 ? std::stoul(argv[2]) : 3000;
  std::size_t in_flight = argc > 3 ? std::stoul(argv[3]) : 4096;
  auto dir = std::filesystem::temp_directory_path() / ("aqua-bench-durable-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto db = aqua::store::db::open(dir);
  if (!db) {
    std::fprintf(stderr, "%s\n", db.err().what().c_str());
    return 1;
  }
  std::string value(1024, 'v');

  // Baseline: one synced write per message.
  auto t0 = clk::now();
  for (std::size_t i = 0; i < n_single; ++i) {
    leveldb::WriteBatch b;
    b.Put(key_for("o/single/", i), value);
    if (auto r = (*db)->write_unbatched(b); !r) {
      std::fprintf(stderr, "%s\n", r.err().what().c_str());
      return 1;
    }
  }
  double single = n_single / std::chrono::duration<double>(clk::now() - t0).count();

  // Group commit: up to `in_flight` writes outstanding, each acknowledged
  // only when its batch is synced.
  std::mutex m;
  std::condition_variable cv;
  std::size_t outstanding = 0, done = 0, failed = 0;
  auto before = (*db)->stats();
  t0 = clk::now();
  for (std::size_t i = 0; i < n_group; ++i) {
    {
      std::unique_lock<std::mutex> g(m);
      cv.wait(g, [&] { return outstanding < in_flight; });
      ++outstanding;
    }
    leveldb::WriteBatch b;
    b.Put(key_for("o/group/", i), value);
    (*db)->submit(std::move(b), [&](const aqua::result<void>& r) {
      std::lock_guard<std::mutex> g(m);
      --outstanding;
      ++done;
      if (!r) ++failed;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> g(m);
    cv.wait(g, [&] { return done == n_group; });
  }
  double group = n_group / std::chrono::duration<double>(clk::now() - t0).count();
  auto after = (*db)->stats();
  db->reset();
  std::filesystem::remove_all(dir);
  if (failed) {
    std::fprintf(stderr, "%zu group writes failed\n", failed);
    return 1;
  }
  std::printf("bench/durable: 1 KiB records, every acknowledgement after fsync (LevelDB sync=true)\n");
  std::printf("  one sync write per message : %10.0f msg/s  (%zu messages)\n", single, n_single);
  std::printf("  group commit               : %10.0f msg/s  (%zu messages, %llu synced batches, %.1f msgs/batch)\n", group,
              n_group, static_cast<unsigned long long>(after.batches - before.batches),
              double(after.writes - before.writes) / double(after.batches - before.batches));
  std::printf("  ratio group/single         : %10.1f x\n", group / single);
  return 0;
}
