// Fills a store on a tiny filesystem (store_disk_full_test.sh mounts a 4 MiB
// tmpfs in a private mount namespace) until a durable write fails, then
// checks: the failure is an error value naming the store, the failed write
// was never acknowledged, the store then refuses every write (fail-stop) even
// with room again, a repair without room for its copy is refused and changes
// nothing, and after reopening every acknowledged write is still there and
// writes work again. Exit 0 = all held.
//   disk_full_probe <dir on the small filesystem>

#include <cstdio>
#include <string>

#include "store/store.hpp"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::string dir = std::string(argv[1]) + "/store";
  std::size_t acked = 0;
  std::string value(16 * 1024, 'x');
  {
    auto db = aqua::store::db::open(dir);
    if (!db) {
      std::fprintf(stderr, "open: %s\n", db.err().what().c_str());
      return 1;
    }
    for (std::size_t i = 0; i < 100000; ++i) {
      leveldb::WriteBatch b;
      b.Put("i/" + std::to_string(1000000 + i), value);
      auto r = (*db)->write(std::move(b));
      if (!r) {
        std::printf("write %zu failed as it should: %s\n", i, r.err().what().c_str());
        if (r.err().code() != aqua::errc::io_error || r.err().message().find(dir) == std::string::npos) {
          std::fprintf(stderr, "unexpected error kind\n");
          return 1;
        }
        break;
      }
      ++acked;
    }
    if (acked == 0 || acked >= 100000) {
      std::fprintf(stderr, "the filesystem never filled up (%zu writes)\n", acked);
      return 1;
    }
    // Room again (as an operator would make it), but this store stays
    // fail-stop: it refuses writes until it is reopened.
    std::remove((std::string(argv[1]) + "/ballast").c_str());
    leveldb::WriteBatch b;
    b.Put("x/after", "small");
    auto again = (*db)->write(std::move(b));
    if (again || again.err().message().find("takes no more writes after a failed one") == std::string::npos ||
        !(*db)->failure()) {
      std::fprintf(stderr, "a write after a failed one was not refused: %s\n", again ? "ok" : again.err().what().c_str());
      return 1;
    }
    std::printf("after the failure, with room again: %s\n", again.err().what().c_str());
  }
  // A repair now (the hint an operator may follow) must not run short of space half-way: LevelDB's RepairDB moves
  // every log to lost/ even when it could not convert it, and the newest acknowledged writes were lost that way.
  // The store is repaired on a copy, which does not fit here: refused, nothing changed.
  auto repaired = aqua::store::db::repair(dir);
  if (repaired || repaired.err().message().find("free space first; the store was not changed") == std::string::npos) {
    std::fprintf(stderr, "a repair without room for it was not refused: %s\n", repaired ? "ok" : repaired.err().what().c_str());
    return 1;
  }
  std::printf("repair on the full disk: %s\n", repaired.err().what().c_str());
  // Reopen, and count what survived.
  auto db = aqua::store::db::open(dir);
  if (!db) {
    std::fprintf(stderr, "reopen: %s\n", db.err().what().c_str());
    return 1;
  }
  std::size_t found = 0;
  auto r = (*db)->scan("i/", [&](std::string_view, std::string_view v) {
    if (v.size() == value.size()) ++found;
    return true;
  });
  if (!r) {
    std::fprintf(stderr, "scan: %s\n", r.err().what().c_str());
    return 1;
  }
  std::printf("%zu writes acknowledged before the disk filled; %zu found after reopening\n", acked, found);
  leveldb::WriteBatch b;
  b.Put("x/reopened", "small");
  if (auto w = (*db)->write(std::move(b)); !w) {
    std::fprintf(stderr, "a write after reopening failed: %s\n", w.err().what().c_str());
    return 1;
  }
  return found >= acked ? 0 : 1;
}
