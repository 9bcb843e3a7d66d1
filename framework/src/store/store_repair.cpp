// db::repair: LevelDB's RepairDB, run on a copy of the store and swapped in
// only once it succeeded (docs/storage.md, "aqua store check | repair").
//
// RepairDB works in place and is not safe to interrupt or to run short of
// space: it moves every log file to lost/ whether or not it could convert it
// into a table (with the disk full, the newest acknowledged writes went to
// lost/ and a later open saw a consistent, older store), and a repair killed
// half-way left a table that the next open deleted as obsolete. So the store
// is copied, the copy repaired, and the two directories exchanged atomically
// (renameat2 RENAME_EXCHANGE); the original is kept beside it. Until the
// exchange the store is never touched.

#include "store/store.hpp"

#include <leveldb/env.h>
#include <leveldb/iterator.h>

#include "store/log_scrub.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace aqua::store {
namespace {

namespace fs = std::filesystem;

std::string os_error(const std::string& what) { return what + ": " + std::strerror(errno); }

result<void> sync_path(const fs::path& p, bool directory) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) return error{errc::io_error, os_error("cannot open '" + p.string() + "' to sync it")};
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return error{errc::io_error, os_error("cannot sync '" + p.string() + "'")};
  return ok();
}

// Bytes of the regular files under `dir`.
result<std::uint64_t> tree_bytes(const fs::path& dir) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file(ec)) n += it->file_size(ec);
  if (ec) return error{errc::io_error, "cannot read store '" + dir.string() + "': " + ec.message()};
  return n;
}

// Every file and directory of `from` but its LOCK, each file synced.
result<void> copy_tree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const auto rel = fs::relative(it->path(), from, ec);
    if (ec) break;
    const auto target = to / rel;
    if (it->is_directory(ec)) {
      fs::create_directory(target, ec);
    } else if (rel != "LOCK") {
      fs::copy_file(it->path(), target, ec);
      if (!ec)
        if (auto s = sync_path(target, false); !s) return s;
    }
    if (ec) return error{errc::io_error, "cannot copy '" + it->path().string() + "': " + ec.message()};
  }
  if (ec) return error{errc::io_error, "cannot copy store '" + from.string() + "': " + ec.message()};
  return ok();
}

// RepairDB moves every log and manifest to lost/ once read, converted or not, and says what it dropped only in
// its info log: this keeps those lines.
class loss_log final : public leveldb::Logger {
 public:
  void Logv(const char* format, std::va_list ap) override {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, format, ap);
    std::string line(buf);
    // "Log #3: 21 ops saved to Table #7 OK", "Table #7: 21 entries OK": read; anything else about a log or a table
    // ("Table #9: 0 entries Corruption: ...", "Log #14: ignoring conversion error: ...", "... dropping ...") is a loss.
    const bool about_file = line.rfind("Log #", 0) == 0 || line.rfind("Table #", 0) == 0;
    const bool read = line.ends_with(" OK") || line.ends_with(" entries repaired");
    // A log recovered by an open: "(ignoring error) <dir>/000026.log: dropping 112 bytes; Corruption: ...".
    if ((about_file && !read) || line.find(": dropping ") != std::string::npos) lines.push_back(line);
  }
  std::vector<std::string> lines;
};

// "<store>.<what>-20261128T091500Z", or with "-2", "-3"... when taken.
fs::path free_name(const fs::path& dir, const std::string& what) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  char stamp[32] = "0";
  if (gmtime_r(&t, &tm)) std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  const auto base = dir.string() + "." + what + "-" + stamp;
  std::error_code ec;
  fs::path p = base;
  for (int i = 2; fs::exists(p, ec) || fs::is_symlink(p, ec); ++i) p = base + "-" + std::to_string(i);
  return p;
}

std::string size_text(std::uint64_t bytes) {
  char buf[32];
  if (bytes >= (100u << 20)) std::snprintf(buf, sizeof buf, "%llu MiB", static_cast<unsigned long long>(bytes >> 20));
  else if (bytes >= (1u << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1u << 20));
  else std::snprintf(buf, sizeof buf, "%llu KiB", static_cast<unsigned long long>(bytes >> 10));
  return buf;
}

// Every log of `work` rewritten with only the records whose checksums hold (log_scrub.hpp); `losses` names the damage.
result<void> scrub_logs(const fs::path& work, std::vector<std::string>& losses) {
  std::error_code ec;
  std::vector<fs::path> logs;
  for (auto& e : fs::directory_iterator(work, ec))
    if (e.path().extension() == ".log") logs.push_back(e.path());
  if (ec) return error{errc::io_error, "cannot list '" + work.string() + "': " + ec.message()};
  std::sort(logs.begin(), logs.end());
  for (const auto& log : logs) {
    auto r = scrub_log(log);
    if (!r) return r.err();
    if (r->damaged)
      losses.push_back(log.filename().string() + ": " + std::to_string(r->bytes_dropped) + " bytes in " +
                       std::to_string(r->damaged) + " damaged place" + (r->damaged == 1 ? "" : "s") +
                       " dropped by their checksums (" + std::to_string(r->records_kept) + " records kept" +
                       (r->tail_bytes ? ", and an incomplete last write of " + std::to_string(r->tail_bytes) + " bytes" : "") + ")");
  }
  return ok();
}

// LevelDB's RepairDB reads log files without checking their checksums (repair.cc passes checksum=false to its
// log reader): a damaged log's bytes went into the store as they were (an altered message, a broken session).
// An open with paranoid_checks off recovers the logs *with* checksums instead, skipping the damaged records (and
// saying so in the info log), and writes them to tables. Then every record is read with checksums: a store that
// reads whole needs nothing more; else (a table damaged or missing) RepairDB rebuilds it. A store whose manifest
// cannot be read goes straight to RepairDB, its logs scrubbed first (scrub_logs). `losses` gets what was dropped.
result<void> recover_logs_then_repair(const fs::path& work, leveldb::Logger& log, std::vector<std::string>& losses,
                                      std::vector<std::string>& notes) {
  leveldb::Options opts;
  opts.info_log = &log;
  opts.paranoid_checks = false;
  leveldb::DB* raw = nullptr;
  auto s = leveldb::DB::Open(opts, work.string(), &raw);
  if (s.ok()) {
    std::unique_ptr<leveldb::DB> opened(raw);
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    std::unique_ptr<leveldb::Iterator> it(opened->NewIterator(ro));
    std::size_t keys = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++keys;
    if (it->status().ok()) return ok();  // every record reads: the logs were the only thing to recover
    losses.push_back("reading the store failed after " + std::to_string(keys) + " keys (" + it->status().ToString() +
                     "): rebuilt from the files that read");
  } else {
    notes.push_back("the store did not open (" + s.ToString() + "): rebuilt from its files");
  }
  // RepairDB would import a damaged log record as it is: each log keeps only the records whose checksums hold.
  if (auto r = scrub_logs(work, losses); !r) return r;
  leveldb::Options ropts;
  ropts.info_log = &log;
  s = leveldb::RepairDB(work.string(), ropts);
  if (!s.ok()) return error{errc::io_error, s.ToString()};
  return ok();
}

} // namespace

result<repair_outcome> db::repair(const fs::path& given, free_space_probe probe) {
  // A store that is a symlink is repaired where it is: the copy and the kept original beside its target (an
  // exchange with the link would have put a real directory in the link's place, on another filesystem).
  std::error_code cec;
  const fs::path dir = fs::is_symlink(given, cec) ? fs::canonical(given, cec) : given;
  if (cec) return error{errc::io_error, "cannot resolve store '" + given.string() + "': " + cec.message()};
  // LevelDB's repair takes no lock: run on a store a node has open, it rewrites the files under it (and the node's
  // later writes are lost). It runs holding the store's lock, as a node does.
  auto* env = leveldb::Env::Default();
  leveldb::FileLock* lock = nullptr;
  auto s = env->LockFile((dir / "LOCK").string(), &lock);
  if (!s.ok()) return from_status(s, "cannot repair store '" + dir.string() + "'");
  struct unlock_at_end {
    leveldb::Env* env;
    leveldb::FileLock* lock;
    ~unlock_at_end() { env->UnlockFile(lock); }
  } unlock{env, lock};
  const std::string unchanged = "; the store was not changed";

  auto size = tree_bytes(dir);
  if (!size) return error{errc::io_error, size.err().message() + unchanged};
  const auto parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  auto free = (probe ? probe : free_space_probe(statvfs_free_bytes))(parent);
  if (!free) return error{errc::io_error, free.err().message() + unchanged};
  // The copy, and room for what the repair writes (a table per log, a manifest): at most about the store again.
  const std::uint64_t need = 2 * *size + (1u << 20);
  if (*free < need)
    return error{errc::io_error, "repair needs about " + size_text(need) + " free beside store '" + dir.string() +
                                   "' (a copy of it, and room for what the repair writes), and the filesystem has " +
                                   size_text(*free) + ": free space first" + unchanged};

  const auto work = free_name(dir, "repair");
  auto fail = [&](std::string why) -> error {
    std::error_code ec;
    fs::remove_all(work, ec);
    return error{errc::io_error, std::move(why) + unchanged};
  };
  std::error_code ec;
  if (!fs::create_directory(work, ec) || ::chmod(work.c_str(), 0700) != 0)  // ratchet and prekey secrets
    return fail("cannot make '" + work.string() + "' for the repair: " + (ec ? ec.message() : std::strerror(errno)));
  if (auto c = copy_tree(dir, work); !c) return fail("cannot copy the store for its repair: " + c.err().message());
  loss_log log;
  std::vector<std::string> found, notes;
  if (auto r = recover_logs_then_repair(work, log, found, notes); !r)
    return fail("repair of '" + dir.string() + "' failed (on a copy): " + r.err().message());
  repair_outcome out;
  out.losses = std::move(found);
  out.notes = std::move(notes);
  out.losses.insert(out.losses.end(), log.lines.begin(), log.lines.end());
  // RepairDB syncs the tables it builds and CURRENT, not its new manifest: every file is synced before the swap.
  for (auto it = fs::recursive_directory_iterator(work, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (auto r = sync_path(it->path(), it->is_directory(ec)); !r) return fail(r.err().message());
  if (ec) return fail("cannot read the repaired copy '" + work.string() + "': " + ec.message());
  if (auto r = sync_path(work, true); !r) return fail(r.err().message());
  if (::renameat2(AT_FDCWD, work.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0)
    return fail(os_error("cannot put the repaired copy in place of '" + dir.string() + "' (an atomic exchange of "
                         "the two directories)"));
  // `work` holds the store as it was now.
  out.kept = free_name(dir, "before-repair");
  if (std::rename(work.c_str(), out.kept.c_str()) != 0) out.kept = work;
  (void) sync_path(parent, true);  // the exchange is done; a failed sync of it changes nothing to report
  return out;
}

} // namespace aqua::store
