#include "store/store.hpp"

#include <leveldb/env.h>
#include <leveldb/iterator.h>

#include <sys/stat.h>

#include <cstring>
#include <future>

namespace aqua::store {
namespace {

// Every read checks the CRC of each block it loads from a table file, so a
// flipped bit on disk is reported (store_corrupt) instead of handed out.
leveldb::ReadOptions verified_reads() {
  leveldb::ReadOptions o;
  o.verify_checksums = true;
  return o;
}

// A store dir holding LevelDB's files but no CURRENT (the name of the live
// MANIFEST): opening it with create_if_missing would start an empty store
// beside the old tables, and LevelDB then deletes them as obsolete.
bool tables_without_current(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir / "CURRENT", ec)) return false;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.rfind("MANIFEST-", 0) == 0 || it->path().extension() == ".ldb" || it->path().extension() == ".sst" ||
        it->path().extension() == ".log")
      return true;
  }
  return false;
}

} // namespace

error from_status(const leveldb::Status& s, const std::string& what) {
  auto msg = what + ": " + s.ToString();
  if (s.IsCorruption()) return error{errc::store_corrupt, msg + " (run 'aqua store repair' to recover what can be recovered)"};
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
    return error{errc::store_locked, msg + " (another aqua process has this store open: a daemon already running on "
                                           "this data dir, or a command holding its node)"};
  const auto text = s.ToString();
  // A full disk is not damage: repair would not help (and needs room itself).
  if (s.IsIOError() && text.find("No space left on device") != std::string::npos)
    return error{errc::io_error, msg + " (the disk is full: free space on it and retry; LevelDB needs room to open a "
                                       "store too)"};
  // A table file cut short or emptied reads as an I/O error ("Invalid argument"), not as corruption.
  if (s.IsIOError() && (text.find(".ldb") != std::string::npos || text.find(".sst") != std::string::npos))
    return error{errc::io_error, msg + " (if that file is damaged, 'aqua store repair' recovers what the others hold)"};
  return error{errc::io_error, msg};
}

result<std::unique_ptr<db>> db::open(const std::filesystem::path& dir, bool create) {
  std::unique_ptr<db> out(new db());
  out->dir_ = dir;
  // The store holds ratchet and prekey secrets: a private dir, always.
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && tables_without_current(dir)) {
    // A store another process is creating right now (its MANIFEST written, CURRENT not yet: `aqua contacts add`
    // and a starting `aqua serve` at once) looks the same; it holds the LOCK meanwhile. Only with the lock is it
    // a store without CURRENT.
    auto* env = leveldb::Env::Default();
    leveldb::FileLock* lock = nullptr;
    if (auto s = env->LockFile((dir / "LOCK").string(), &lock); !s.ok())
      return from_status(s, "cannot open store '" + dir.string() + "'");
    const bool missing = tables_without_current(dir);
    env->UnlockFile(lock);
    if (missing)
      return error{errc::store_corrupt, "store '" + dir.string() + "' holds data files but no CURRENT file; run 'aqua "
                                        "store repair' to rebuild it from them (nothing was changed)"};
  }
  if (create) std::filesystem::create_directories(dir, ec);
  // Only when it is not 0700 already: a read-only filesystem (or an immutable dir) need not fail here, and when it
  // does, the reason is said.
  if (struct stat st {}; ::stat(dir.c_str(), &st) == 0 && (st.st_mode & 07777) != 0700 && ::chmod(dir.c_str(), 0700) != 0)
    return error{errc::io_error, "cannot chmod 0700 store dir '" + dir.string() + "': " + std::strerror(errno)};
  leveldb::Options opts;
  opts.create_if_missing = create;
  opts.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  auto s = leveldb::DB::Open(opts, dir.string(), &raw);
  if (!s.ok()) return from_status(s, "cannot open store '" + dir.string() + "'");
  out->db_.reset(raw);
  // A store written by a future layout is refused rather than misread.
  std::string v;
  s = out->db_->Get(verified_reads(), "meta/layout", &v);
  if (s.IsNotFound()) {
    leveldb::WriteOptions wo;
    wo.sync = true;
    s = out->db_->Put(wo, "meta/layout", std::to_string(layout_version));
    if (!s.ok()) return from_status(s, "cannot initialise store '" + dir.string() + "'");
  } else if (!s.ok()) {
    return from_status(s, "cannot read store '" + dir.string() + "'");
  } else if (v != std::to_string(layout_version)) {
    return error{errc::unknown_version, "store '" + dir.string() + "' has layout " + v + "; this aqua reads layout " +
                                            std::to_string(layout_version)};
  }
  out->committer_ = std::thread([p = out.get()] { p->committer_loop(); });
  return out;
}

db::~db() {
  {
    std::lock_guard<std::mutex> g(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (committer_.joinable()) committer_.join();
}

void db::enqueue(leveldb::WriteBatch& ops, done_fn done) {
  auto& p = queue_.emplace_back();  // deque: queued batches never move
  p.ops.Append(ops);                // the one copy (WriteBatch cannot move)
  p.done = std::move(done);
}

void db::submit(leveldb::WriteBatch&& ops, done_fn done) {
  {
    std::lock_guard<std::mutex> g(mutex_);
    enqueue(ops, std::move(done));
  }
  wake_.notify_one();
}

void db::submit_or_write(leveldb::WriteBatch&& ops, done_fn done) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (writing_ || !queue_.empty() || stopping_ || sync_ewma_ >= inline_sync_limit_) {
    enqueue(ops, std::move(done));
    lock.unlock();
    wake_.notify_one();
    return;
  }
  writing_ = true;  // the committer leaves the queue alone until we are done: order is kept
  lock.unlock();
  auto r = write_synced(ops, 1);
  if (done) done(r);  // before the committer may complete writes queued meanwhile
  lock.lock();
  writing_ = false;
  bool more = !queue_.empty();
  lock.unlock();
  if (more) wake_.notify_one();
}

void db::set_inline_sync_limit(std::chrono::microseconds limit) {
  std::lock_guard<std::mutex> g(mutex_);
  inline_sync_limit_ = limit;
}

std::optional<error> db::failure() const {
  std::lock_guard<std::mutex> g(mutex_);
  return failed_;
}

// One synced LevelDB write, unless an earlier one failed (fail-stop, see failure()).
result<void> db::write_or_refuse(leveldb::WriteBatch& batch) {
  {
    std::lock_guard<std::mutex> g(mutex_);
    if (failed_)
      return error{failed_->code(), "store '" + dir_.string() + "' takes no more writes after a failed one (" +
                                      failed_->message() + "); fix the cause and restart the node"};
  }
  leveldb::WriteOptions wo;
  wo.sync = true;
  auto s = db_->Write(wo, &batch);
  if (s.ok()) return ok();
  auto e = from_status(s, "durable write to '" + dir_.string() + "' failed");
  std::lock_guard<std::mutex> g(mutex_);
  if (!failed_) failed_ = e;
  return e;
}

result<void> db::write_synced(leveldb::WriteBatch& batch, std::size_t groups) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = write_or_refuse(batch);
  auto took = std::chrono::steady_clock::now() - t0;
  {
    std::lock_guard<std::mutex> g(mutex_);
    sync_ewma_ += (std::chrono::duration_cast<std::chrono::nanoseconds>(took) - sync_ewma_) / 8;
  }
  {
    std::lock_guard<std::mutex> g(stats_mutex_);  // counted before anyone hears "durable"
    ++stats_.batches;
    stats_.writes += groups;
  }
  return r;
}

void db::committer_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return (stopping_ && !writing_) || (!queue_.empty() && !writing_); });
    if (queue_.empty() && stopping_) return;
    std::deque<pending> group;
    group.swap(queue_);
    writing_ = true;
    lock.unlock();
    leveldb::WriteBatch joined;
    if (group.size() > 1)
      for (auto& p : group) joined.Append(p.ops);
    auto r = write_synced(group.size() > 1 ? joined : group.front().ops, group.size());
    for (auto& p : group)  // before an inline writer may go: completions stay in write order
      if (p.done) p.done(r);
    lock.lock();
    writing_ = false;
  }
}

result<void> db::write(leveldb::WriteBatch&& ops) {
  auto promise = std::make_shared<std::promise<result<void>>>();
  auto fut = promise->get_future();
  submit(std::move(ops), [promise](const result<void>& r) { promise->set_value(r); });
  return fut.get();
}

result<void> db::write_unbatched(leveldb::WriteBatch& ops) { return write_or_refuse(ops); }

result<std::optional<std::string>> db::get(const std::string& key) const {
  std::string v;
  auto s = db_->Get(verified_reads(), key, &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_status(s, "read of '" + dir_.string() + "' failed");
  return std::optional<std::string>(std::move(v));
}

result<void> db::scan(const std::string& prefix, const std::function<bool(std::string_view, std::string_view)>& fn,
                      const std::string& start_after) const {
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(verified_reads()));
  if (start_after.empty()) {
    it->Seek(prefix);
  } else {
    it->Seek(start_after);
    if (it->Valid() && it->key().ToString() == start_after) it->Next();
  }
  for (; it->Valid(); it->Next()) {
    auto k = it->key();
    if (!k.starts_with(prefix)) break;
    if (!fn(std::string_view(k.data(), k.size()), std::string_view(it->value().data(), it->value().size()))) break;
  }
  if (!it->status().ok()) return from_status(it->status(), "scan of '" + dir_.string() + "' failed");
  return ok();
}

commit_stats db::stats() const {
  std::lock_guard<std::mutex> g(stats_mutex_);
  return stats_;
}

} // namespace aqua::store
