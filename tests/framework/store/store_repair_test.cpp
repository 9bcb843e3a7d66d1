// db::repair runs LevelDB's RepairDB on a copy and swaps it in only once it
// worked: a repair that fails (here: no room for the copy) changes nothing,
// and a successful one keeps the store as it was beside it.

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "store/store.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;

namespace {

namespace fs = std::filesystem;

leveldb::WriteBatch put(const std::string& k, const std::string& v) {
  leveldb::WriteBatch b;
  b.Put(k, v);
  return b;
}

// Every file under `dir` with its bytes.
std::map<std::string, std::string> files_of(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) {
      std::ifstream f(e.path(), std::ios::binary);
      out[fs::relative(e.path(), dir).string()] = std::string(std::istreambuf_iterator<char>(f), {});
    }
  return out;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t count(store::db& db, const std::string& prefix) {
  std::size_t n = 0;
  EXPECT_TRUE(db.scan(prefix, [&](std::string_view, std::string_view) { return ++n, true; }));
  return n;
}

// A store whose newest writes are only in its log (as after a stop: LevelDB converts the log at the next open).
fs::path store_with_a_log(const test::temp_dir& tmp, int records) {
  auto dir = tmp.path() / "store";
  auto db = store::db::open(dir);
  EXPECT_TRUE(db);
  for (int i = 0; i < records; ++i) EXPECT_TRUE((*db)->write(put("i/" + std::to_string(1000 + i), std::string(200, 'm'))));
  return dir;
}

// Writes "ABCD" over the middle of the store's log (inside one of its records); returns the log's path.
fs::path damage_the_log(const fs::path& dir) {
  fs::path log;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".log") log = e.path();
  EXPECT_FALSE(log.empty());
  std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(fs::file_size(log) / 2));
  f << "ABCD";
  return log;
}

// The i/ records of the repaired store at `dir`, each checked to be one that was written (200 bytes of 'm').
std::size_t unaltered_records(const fs::path& dir) {
  auto db = store::db::open(dir, false);
  EXPECT_TRUE(db) << db.err().what();
  std::size_t kept = 0;
  if (!db) return 0;
  EXPECT_TRUE((*db)->scan("i/", [&](std::string_view, std::string_view v) {
    EXPECT_EQ(v, std::string(200, 'm'));  // never an altered value
    return ++kept, true;
  }));
  return kept;
}

} // namespace

TEST(store_repair, without_room_for_a_copy_it_changes_nothing_and_says_how_much_it_needs) {
  test::temp_dir tmp("repair");
  const auto dir = store_with_a_log(tmp, 50);
  const auto before = files_of(dir);
  const auto siblings = names_in(tmp.path());
  auto r = store::db::repair(dir, [](const fs::path&) -> result<std::uint64_t> { return std::uint64_t{64 << 10}; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::io_error);
  EXPECT_NE(r.err().message().find("free beside store '" + dir.string() + "' (a copy of it, and room for what the repair writes), and the "
                                   "filesystem has 64 KiB"), std::string::npos) << r.err().what();
  EXPECT_NE(r.err().message().find("free space first; the store was not changed"), std::string::npos) << r.err().what();
  auto after = files_of(dir);
  after.erase("LOCK");  // LevelDB's lock file: empty, created by the repair's lock if it was not there
  auto expected = before;
  expected.erase("LOCK");
  EXPECT_EQ(after, expected);
  EXPECT_EQ(names_in(tmp.path()), siblings);  // no copy left behind
  auto db = store::db::open(dir, false);
  ASSERT_TRUE(db) << db.err().what();
  EXPECT_EQ(count(**db, "i/"), 50u);
}

TEST(store_repair, a_repair_keeps_the_store_as_it_was_beside_it_and_leaves_no_work_copy) {
  test::temp_dir tmp("repair");
  const auto dir = store_with_a_log(tmp, 80);
  // Damage the manifest: the store no longer opens; repair rebuilds it from the log and tables.
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("MANIFEST", 0) == 0) std::ofstream(e.path(), std::ios::trunc) << "garbage";
  auto original = files_of(dir);
  original.erase("LOCK");
  auto r = store::db::repair(dir);
  ASSERT_TRUE(r) << r.err().what();
  EXPECT_TRUE(r->losses.empty()) << ::testing::PrintToString(r->losses);
  ASSERT_EQ(r->notes.size(), 1u) << ::testing::PrintToString(r->notes);  // the manifest: said
  EXPECT_EQ(r->notes[0].rfind("the store did not open (Corruption: ", 0), 0u) << r->notes[0];
  EXPECT_EQ(r->kept.parent_path(), tmp.path());
  EXPECT_EQ(r->kept.filename().string().rfind("store.before-repair-", 0), 0u) << r->kept;
  auto kept = files_of(r->kept);
  kept.erase("LOCK");
  EXPECT_EQ(kept, original);  // the damaged store, byte for byte
  EXPECT_EQ((fs::status(r->kept).permissions() & fs::perms::all), fs::perms::owner_all);
  EXPECT_EQ((fs::status(dir).permissions() & fs::perms::all), fs::perms::owner_all);  // secrets: 0700 both
  EXPECT_EQ(names_in(tmp.path()), (std::vector<std::string>{"store", r->kept.filename().string()}));
  auto db = store::db::open(dir, false);
  ASSERT_TRUE(db) << db.err().what();
  EXPECT_EQ(count(**db, "i/"), 80u);
  db = store::db::open(tmp.path() / "other");  // closes the repaired store
  auto second = store::db::repair(dir);  // a second repair the same second gets its own name
  ASSERT_TRUE(second) << second.err().what();
  EXPECT_NE(second->kept, r->kept);
}

TEST(store_repair, what_it_could_not_read_is_named) {
  test::temp_dir tmp("repair");
  const auto dir = store_with_a_log(tmp, 20);
  ASSERT_TRUE(store::db::open(dir, false));  // converts the log into a table
  fs::path biggest;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".ldb" && (biggest.empty() || e.file_size() > fs::file_size(biggest))) biggest = e.path();
  ASSERT_FALSE(biggest.empty());
  fs::resize_file(biggest, fs::file_size(biggest) / 2);  // a table cut short
  auto r = store::db::repair(dir);
  ASSERT_TRUE(r) << r.err().what();
  const auto said = ::testing::PrintToString(r->losses);
  EXPECT_NE(said.find("reading the store failed after 0 keys"), std::string::npos) << said;
  EXPECT_NE(said.find("Table #"), std::string::npos) << said;  // LevelDB's line about the table it dropped
}

TEST(store_repair, a_damaged_log_is_recovered_with_its_checksums_never_imported_altered) {
  // LevelDB's RepairDB reads logs without checksums: bytes flipped in a log came back as altered records (a
  // message's text, a session) while repair and check said OK. The repair recovers logs with their checksums.
  test::temp_dir tmp("repair");
  const auto dir = store_with_a_log(tmp, 100);  // 100 x 200 bytes of 'm', all in the log
  damage_the_log(dir);
  auto r = store::db::repair(dir);
  ASSERT_TRUE(r) << r.err().what();
  const auto said = ::testing::PrintToString(r->losses);
  EXPECT_NE(said.find(": dropping "), std::string::npos) << said;
  const auto kept = unaltered_records(dir);
  EXPECT_LT(kept, 100u);
  EXPECT_GT(kept, 0u);
}

TEST(store_repair, a_damaged_log_is_never_imported_altered_even_when_the_manifest_is_unreadable) {
  // Without a manifest that reads, LevelDB's open cannot recover the logs and RepairDB reads them unchecked: the
  // flipped bytes came back inside a value. The repair scrubs each log by its checksums before RepairDB.
  test::temp_dir tmp("repair");
  const auto dir = store_with_a_log(tmp, 100);
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("MANIFEST", 0) == 0) std::ofstream(e.path(), std::ios::trunc) << "garbage";
  const auto log = damage_the_log(dir);
  auto r = store::db::repair(dir);
  ASSERT_TRUE(r) << r.err().what();
  const auto said = ::testing::PrintToString(r->losses);
  EXPECT_NE(said.find(log.filename().string() + ": "), std::string::npos) << said;
  EXPECT_NE(said.find("1 damaged place dropped by their checksums"), std::string::npos) << said;
  const auto kept = unaltered_records(dir);
  EXPECT_LT(kept, 100u);
  EXPECT_GT(kept, 40u);  // the records before the damage (all 100 share one 32 KiB block: the rest of it is lost)
}

TEST(store_repair, a_full_disk_is_not_sent_to_repair) {
  // Opening a store writes (a new log, a compaction): on a full disk even `inbox list` fails, naming a table file.
  // That error pointed at `aqua store repair`, which needs room itself and cannot help.
  auto full = store::from_status(leveldb::Status::IOError("/d/store/000011.ldb", "No space left on device"), "cannot open");
  EXPECT_EQ(full.code(), errc::io_error);
  EXPECT_NE(full.message().find("the disk is full: free space on it and retry"), std::string::npos) << full.what();
  EXPECT_EQ(full.message().find("repair"), std::string::npos) << full.what();
  auto cut = store::from_status(leveldb::Status::IOError("/d/store/000011.ldb", "Invalid argument"), "cannot open");
  EXPECT_NE(cut.message().find("'aqua store repair' recovers what the others hold"), std::string::npos) << cut.what();
}
