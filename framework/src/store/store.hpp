#pragma once
// Private: the node's durable store, one LevelDB database per data dir
// (<data_dir>/store). Key layout in docs/storage.md. Every write goes
// through the group committer: concurrent writers are coalesced into one
// WriteBatch written with sync=true, and each writer hears "durable" only
// after that batch is on disk.

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aqua/error.hpp"

namespace aqua::store {

inline constexpr const char* dir_name = "store";
inline constexpr std::uint32_t layout_version = 1;

struct commit_stats {
  std::uint64_t batches = 0;  // synced LevelDB writes
  std::uint64_t writes = 0;   // submitted write groups
};

class db {
 public:
  // errc::store_corrupt (says to run `aqua store repair`), store_locked
  // (another process has it open), io_error.
  static result<std::unique_ptr<db>> open(const std::filesystem::path& dir, bool create = true);
  // leveldb::RepairDB; the store must not be open.
  static result<void> repair(const std::filesystem::path& dir);
  ~db();

  using done_fn = std::function<void(const result<void>&)>;
  // Asynchronous durable write: `done` runs on the committer thread once
  // the batch holding `ops` is synced (or failed: then nothing of it is
  // acknowledged).
  void submit(leveldb::WriteBatch ops, done_fn done);
  // Synchronous convenience: submit and wait.
  result<void> write(leveldb::WriteBatch ops);
  // One sync write, bypassing group commit (the baseline in bench/durable).
  result<void> write_unbatched(leveldb::WriteBatch& ops);

  result<std::optional<std::string>> get(const std::string& key) const;
  // Calls fn(key, value) for every key with `prefix`, in order, until fn returns false.
  result<void> scan(const std::string& prefix, const std::function<bool(std::string_view, std::string_view)>& fn,
                    const std::string& start_after = {}) const;

  commit_stats stats() const;
  const std::filesystem::path& path() const { return dir_; }

 private:
  db() = default;
  void committer_loop();

  std::filesystem::path dir_;
  std::unique_ptr<leveldb::DB> db_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  struct pending {
    leveldb::WriteBatch ops;
    done_fn done;
  };
  std::deque<pending> queue_;
  bool stopping_ = false;
  mutable std::mutex stats_mutex_;
  commit_stats stats_;
  std::thread committer_;
};

error from_status(const leveldb::Status& s, const std::string& what);

} // namespace aqua::store
