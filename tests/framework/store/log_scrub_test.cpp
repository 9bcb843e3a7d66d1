// The log scrub that runs before RepairDB (store/log_scrub.hpp): it reads the
// log format as LevelDB writes it, keeps exactly the records whose checksums
// hold, and writes logs LevelDB reads back.

#include <gtest/gtest.h>

#include <fstream>

#include "store/log_scrub.hpp"
#include "store/store.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;

namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Records of every size class: empty, small, exactly a block's room, spanning several blocks.
std::vector<std::string> sample_records() {
  std::vector<std::string> out{"", "a", std::string(32768 - 7, 'b'), std::string(100000, 'c')};
  for (int i = 0; i < 200; ++i) out.push_back(std::string(static_cast<std::size_t>(50 + i * 7), static_cast<char>('d' + i % 20)));
  return out;
}

} // namespace

TEST(log_scrub, crc32c_matches_the_published_check_values) {
  EXPECT_EQ(store::crc32c_extend(0, "123456789"), 0xe3069283u);  // the CRC-32C check value
  EXPECT_EQ(store::crc32c_extend(0, std::string(32, '\0')), 0x8a9136aau);  // RFC 3720 B.4
  EXPECT_EQ(store::crc32c_extend(store::crc32c_extend(0, "1234"), "56789"), 0xe3069283u);
}

TEST(log_scrub, what_it_writes_reads_back_whole) {
  const auto records = sample_records();
  const auto text = store::write_log(records);
  auto back = store::read_log_checked(text);
  EXPECT_EQ(back.records, records);
  EXPECT_EQ(back.outcome.damaged, 0u);
  EXPECT_EQ(back.outcome.tail_bytes, 0u);
}

TEST(log_scrub, reads_a_log_leveldb_wrote_byte_for_byte_as_it_would_write_it) {
  test::temp_dir tmp("scrub");
  {
    auto db = store::db::open(tmp.path() / "store");
    ASSERT_TRUE(db);
    for (int i = 0; i < 300; ++i) {
      leveldb::WriteBatch b;
      b.Put("k/" + std::to_string(i), std::string(static_cast<std::size_t>(10 + i * 13), 'v'));
      ASSERT_TRUE((*db)->write(std::move(b)));
    }
  }
  fs::path log;
  for (auto& e : fs::directory_iterator(tmp.path() / "store"))
    if (e.path().extension() == ".log" && fs::file_size(e.path()) > 0) log = e.path();
  ASSERT_FALSE(log.empty());
  const auto bytes = read_file(log);
  auto got = store::read_log_checked(bytes);
  EXPECT_EQ(got.outcome.damaged, 0u);
  EXPECT_GE(got.outcome.records_kept, 300u);  // ours, and what db::open writes itself
  EXPECT_EQ(store::write_log(got.records), bytes);  // same layout as LevelDB's own writer
}

TEST(log_scrub, a_flipped_byte_loses_the_rest_of_its_block_and_nothing_else) {
  const auto records = sample_records();
  auto text = store::write_log(records);
  text[40000] ^= 0x01;  // inside the second block
  auto got = store::read_log_checked(text);
  EXPECT_EQ(got.outcome.damaged, 1u);
  EXPECT_GT(got.outcome.bytes_dropped, 0u);
  ASSERT_LT(got.records.size(), records.size());
  for (const auto& r : got.records)  // every record kept is one that was written, unaltered
    EXPECT_NE(std::find(records.begin(), records.end(), r), records.end());
  EXPECT_GT(got.records.size(), records.size() - 10);
}

TEST(log_scrub, an_incomplete_last_write_is_a_tail_not_damage) {
  const auto records = sample_records();
  auto text = store::write_log(records);
  text.resize(text.size() - 20);
  auto got = store::read_log_checked(text);
  EXPECT_EQ(got.outcome.damaged, 0u);
  EXPECT_GT(got.outcome.tail_bytes, 0u);
  EXPECT_EQ(got.records.size(), records.size() - 1);
}

TEST(log_scrub, garbage_of_any_shape_never_crashes_and_keeps_only_checksummed_records) {
  std::string text = store::write_log({"keep me"});
  for (int i = 0; i < 5000; ++i) text.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  auto got = store::read_log_checked(text);
  ASSERT_GE(got.records.size(), 1u);
  EXPECT_EQ(got.records[0], "keep me");
  EXPECT_EQ(got.records.size(), 1u);
  EXPECT_GE(got.outcome.damaged + (got.outcome.tail_bytes ? 1u : 0u), 1u);
  for (std::size_t n = 0; n < 64; ++n) (void) store::read_log_checked(text.substr(0, n));  // every short prefix
}

TEST(log_scrub, a_log_that_reads_whole_is_left_untouched) {
  test::temp_dir tmp("scrub");
  const auto path = tmp.path() / "000003.log";
  const auto text = store::write_log(sample_records());
  std::ofstream(path, std::ios::binary) << text;
  const auto before = fs::last_write_time(path);
  auto r = store::scrub_log(path);
  ASSERT_TRUE(r) << r.err().what();
  EXPECT_EQ(r->damaged, 0u);
  EXPECT_EQ(fs::last_write_time(path), before);
  EXPECT_EQ(read_file(path), text);
}
