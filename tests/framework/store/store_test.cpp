#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "store/store.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;

namespace {
leveldb::WriteBatch put(const std::string& k, const std::string& v) {
  leveldb::WriteBatch b;
  b.Put(k, v);
  return b;
}
} // namespace

TEST(store, writes_are_durable_across_reopen_and_scans_are_ordered) {
  test::temp_dir tmp("store");
  {
    auto db = store::db::open(tmp.path() / "s");
    ASSERT_TRUE(db) << db.err().what();
    ASSERT_TRUE((*db)->write(put("i/0002", "b")));
    ASSERT_TRUE((*db)->write(put("i/0001", "a")));
    ASSERT_TRUE((*db)->write(put("o/0001", "x")));
  }
  auto db = store::db::open(tmp.path() / "s");
  ASSERT_TRUE(db) << db.err().what();
  EXPECT_EQ((*db)->get("i/0001")->value(), "a");
  EXPECT_FALSE((*db)->get("i/0003")->has_value());
  std::vector<std::string> keys;
  ASSERT_TRUE((*db)->scan("i/", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  }));
  EXPECT_EQ(keys, (std::vector<std::string>{"i/0001", "i/0002"}));
  keys.clear();
  ASSERT_TRUE((*db)->scan("i/", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  }, "i/0001"));
  EXPECT_EQ(keys, (std::vector<std::string>{"i/0002"}));
}

TEST(store, concurrent_writers_are_coalesced_into_fewer_synced_batches) {
  test::temp_dir tmp("store");
  auto db = store::db::open(tmp.path() / "s");
  ASSERT_TRUE(db);
  std::atomic<int> acked{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i)
        if ((*db)->write(put("k/" + std::to_string(t) + "/" + std::to_string(i), "v"))) ++acked;
    });
  for (auto& w : writers) w.join();
  EXPECT_EQ(acked, 1600);
  auto st = (*db)->stats();
  EXPECT_EQ(st.writes, 1600u);
  EXPECT_LT(st.batches, st.writes);  // several writers shared a sync
  int n = 0;
  ASSERT_TRUE((*db)->scan("k/", [&](std::string_view, std::string_view) { return ++n, true; }));
  EXPECT_EQ(n, 1600);
}

TEST(store, second_opener_gets_store_locked) {
  test::temp_dir tmp("store");
  auto a = store::db::open(tmp.path() / "s");
  ASSERT_TRUE(a);
  auto b = store::db::open(tmp.path() / "s");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.err().code(), errc::store_locked);
}

TEST(store, corruption_is_reported_and_repair_recovers_the_data) {
  test::temp_dir tmp("store");
  auto dir = tmp.path() / "s";
  {
    auto db = store::db::open(dir);
    ASSERT_TRUE(db);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE((*db)->write(put("i/" + std::to_string(1000 + i), std::string(100, 'x'))));
  }
  // Corrupt the MANIFEST: LevelDB can no longer open the store.
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("MANIFEST", 0) == 0) {
      std::ofstream f(e.path(), std::ios::binary | std::ios::trunc);
      f << "garbage that is not a manifest";
    }
  auto bad = store::db::open(dir);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.err().code(), errc::store_corrupt);
  EXPECT_NE(bad.err().message().find("aqua store repair"), std::string::npos);
  ASSERT_TRUE(store::db::repair(dir));
  auto fixed = store::db::open(dir);
  ASSERT_TRUE(fixed) << fixed.err().what();
  int n = 0;
  ASSERT_TRUE((*fixed)->scan("i/", [&](std::string_view, std::string_view) { return ++n, true; }));
  EXPECT_EQ(n, 100);
}

TEST(store, refuses_a_future_layout) {
  test::temp_dir tmp("store");
  {
    auto db = store::db::open(tmp.path() / "s");
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->write(put("meta/layout", "99")));
  }
  auto db = store::db::open(tmp.path() / "s");
  ASSERT_FALSE(db);
  EXPECT_EQ(db.err().code(), errc::unknown_version);
}

TEST(store, missing_store_is_not_created_when_asked_not_to) {
  test::temp_dir tmp("store");
  auto db = store::db::open(tmp.path() / "nope", false);
  ASSERT_FALSE(db);
}
