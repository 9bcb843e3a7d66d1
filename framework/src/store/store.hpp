#pragma once
// Private: the node's durable store, one LevelDB database per data dir
// (<data_dir>/store). Key layout in docs/storage.md. Every write goes
// through the group committer: concurrent writers are coalesced into one
// WriteBatch written with sync=true, and each writer hears "durable" only
// after that batch is on disk.

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <chrono>
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

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"
#include "store/free_space.hpp"

namespace aqua::store {

inline constexpr const char* dir_name = "store";

// An encoded record as a WriteBatch takes it (Put copies it): no string in between.
inline leveldb::Slice as_slice(bytes_view b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }
inline constexpr std::uint32_t layout_version = 1;

struct repair_outcome {
  std::filesystem::path kept;          // the store as it was before the repair, beside it
  std::vector<std::string> losses;     // what the repair dropped, as LevelDB says it ("Log #14: ignoring ...")
  std::vector<std::string> notes;      // how it went: e.g. the store did not open, so logs were read unchecked
};

struct commit_stats {
  std::uint64_t batches = 0;  // synced LevelDB writes
  std::uint64_t writes = 0;   // submitted write groups
};

class db {
 public:
  // errc::store_corrupt (says to run `aqua store repair`), store_locked
  // (another process has it open), io_error.
  static result<std::unique_ptr<db>> open(const std::filesystem::path& dir, bool create = true);
  // leveldb::RepairDB on a copy of the store, put in its place only once it
  // succeeded (store_repair.cpp); the store must not be open (store_locked).
  // Needs free space for the copy (`probe`: statvfs when empty); any failure
  // leaves the store as it was.
  static result<repair_outcome> repair(const std::filesystem::path& dir, free_space_probe probe = {});
  ~db();

  using done_fn = std::function<void(const result<void>&)>;
  // Batches go in by rvalue reference: leveldb::WriteBatch has no move
  // constructor, so every by-value hand-over copied its whole encoding (a
  // burst of sealed envelopes). A batch is copied once at most, when queued.
  //
  // Asynchronous durable write: `done` runs on the committer thread once
  // the batch holding `ops` is synced (or failed: then nothing of it is
  // acknowledged).
  void submit(leveldb::WriteBatch&& ops, done_fn done);
  // Like submit, but when nothing is queued or being written and synced
  // writes have recently been fast (under inline_sync_limit, e.g. tmpfs or a
  // drive with a write cache that honours flushes), the caller becomes the
  // writer: the batch is written and synced in the calling thread and `done`
  // runs before this returns. Saves two thread hand-offs per write when the
  // node is lightly loaded; under load (or on slow syncs) it is submit().
  // Writes stay in submission order either way.
  void submit_or_write(leveldb::WriteBatch&& ops, done_fn done);
  static constexpr std::chrono::microseconds default_inline_sync_limit{50};
  void set_inline_sync_limit(std::chrono::microseconds limit);  // tests: 0 = never inline
  // Fail-stop: once a write fails (disk full, I/O error), every later write
  // fails too, naming the first failure, until the store is reopened. Each
  // batch carries the engine changes taken since the previous one; those of
  // a failed batch are lost to the store but live on in memory, so a later
  // write that succeeded would leave an engine state on disk that no step
  // sequence produced (measured: a broken session). A restart resumes from
  // the last consistent state instead (docs/storage.md, "When a write fails").
  // The first failure, if any.
  std::optional<error> failure() const;
  // Synchronous convenience: submit and wait.
  result<void> write(leveldb::WriteBatch&& ops);
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
  void enqueue(leveldb::WriteBatch& ops, done_fn done);  // with mutex_ held
  bool stopping_ = false;
  bool writing_ = false;                        // a batch is being written (committer or inline)
  std::chrono::nanoseconds inline_sync_limit_{default_inline_sync_limit};  // guarded by mutex_
  std::chrono::nanoseconds sync_ewma_{default_inline_sync_limit};        // recent synced-write time (mutex_)
  std::optional<error> failed_;                                            // the first failed write (mutex_)
  result<void> write_or_refuse(leveldb::WriteBatch& batch);
  result<void> write_synced(leveldb::WriteBatch& batch, std::size_t groups);
  mutable std::mutex stats_mutex_;
  commit_stats stats_;
  std::thread committer_;
};

error from_status(const leveldb::Status& s, const std::string& what);

} // namespace aqua::store
