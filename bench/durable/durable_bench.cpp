// bench/durable: durable (fsync'd) 1 KiB message records per second with
// group commit (many writers in flight, coalesced into one synced
// WriteBatch) vs one sync write per message, same store, same run.
//   bench_durable [group-commit messages=200000] [baseline messages=3000] [in flight=4096]

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>

#include "store/store.hpp"
#include "bench_args.hpp"
#include "work_floor.hpp"

int main(int argc, char** argv) {
  const aqua::bench::args a(argc, argv, "bench_durable [group-commit messages=200000] [baseline messages=3000] [in flight=4096]");
  a.at_most(3);
  std::size_t n_group = a.count(1, "group-commit messages", 200000, 1, 100000000);
  std::size_t n_single = a.count(2, "baseline messages", 3000, 1, 100000000);
  std::size_t in_flight = a.count(3, "in flight", 4096, 1, 1000000);
  auto dir = std::filesystem::temp_directory_path() / ("aqua-bench-durable-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto db = aqua::store::db::open(dir);
  if (!db) {
    std::fprintf(stderr, "%s\n", db.err().what().c_str());
    return 1;
  }
  // Baseline: one synced write per message.
  auto us = bench::synced_writes_us(**db, n_single, 1024);
  double single = static_cast<double>(n_single) / (std::accumulate(us.begin(), us.end(), 0.0) / 1e6);
  // Group commit: up to `in_flight` writes outstanding, each acknowledged
  // only when its batch is synced.
  auto group = bench::group_commit(**db, n_group, 1024, in_flight);
  db->reset();
  std::filesystem::remove_all(dir);
  if (group.failed) {
    std::fprintf(stderr, "%zu group writes failed\n", group.failed);
    return 1;
  }
  std::printf("bench/durable: 1 KiB records, every acknowledgement after fsync (LevelDB sync=true)\n");
  std::printf("  one sync write per message : %10.0f msg/s  (%zu messages)\n", single, n_single);
  std::printf("  group commit               : %10.0f msg/s  (%zu messages, %llu synced batches, %.1f msgs/batch)\n",
              group.per_second, n_group, static_cast<unsigned long long>(group.batches),
              double(group.writes) / double(group.batches ? group.batches : 1));
  std::printf("  ratio group/single         : %10.1f x\n", group.per_second / single);
  return 0;
}
