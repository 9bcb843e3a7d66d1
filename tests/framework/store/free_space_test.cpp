// free_space_guard: the room a stranger's bytes may take on the store's disk, with a probe the test controls.
#include <gtest/gtest.h>

#include "store/free_space.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;
using namespace aqua::store;

namespace {

constexpr std::uint64_t mib = 1u << 20;

// A probe answering `*free` (or an error when it is 0) and counting its calls.
struct fake_disk {
  std::uint64_t free = 0;
  int calls = 0;
  free_space_probe probe() {
    return [this](const std::filesystem::path&) -> result<std::uint64_t> {
      ++calls;
      if (free == 0) return error{errc::io_error, "statvfs /nowhere: No such file or directory"};
      return free;
    };
  }
};

} // namespace

TEST(free_space_guard, a_write_that_would_leave_less_than_the_reserve_is_refused_naming_the_free_space) {
  fake_disk disk{300 * mib};
  free_space_guard g("/data/store", 256 * mib, disk.probe(), 0);  // probes every time
  EXPECT_TRUE(g.take(40 * mib, 1000));
  disk.free = 256 * mib + 1000;
  auto r = g.take(1001, 1001);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::quota_exceeded);
  EXPECT_NE(r.err().message().find("disk is nearly full: 268436456 bytes (256 MiB) free"), std::string::npos)
      << r.err().message();
  EXPECT_NE(r.err().message().find("268435456 bytes (256 MiB) it keeps free (mailbox_min_free_bytes)"),
            std::string::npos)
      << r.err().message();
  EXPECT_TRUE(g.take(1000, 1002));  // exactly the reserve left: still fits
  disk.free = 100 * mib;            // below the reserve: nothing fits
  EXPECT_FALSE(g.take(1, 1003));
  EXPECT_EQ(disk.calls, 4);
}

TEST(free_space_guard, bytes_taken_between_probes_count_against_the_last_answer) {
  fake_disk disk{10 * mib + 25 * 100000};
  free_space_guard g("/data/store", 10 * mib, disk.probe(), 1000);
  EXPECT_TRUE(g.take(100000, 5000));
  EXPECT_TRUE(g.take(100000 * 23, 5100));  // 24 x 100000 taken: 100000 above the reserve left
  EXPECT_EQ(g.estimate(), 10 * mib + 100000);
  // The probe would still say 25 x 100000 above the reserve (the writes may not have reached the disk yet), but
  // what was taken since it ran counts: the next two only fit one at a time.
  EXPECT_TRUE(g.take(100000, 5200));
  EXPECT_FALSE(g.take(1, 5999));
  EXPECT_EQ(disk.calls, 1);  // one probe for all of them
  // The answer is stale after cache_ms: a new probe sees the room the writes really left.
  disk.free = 10 * mib + 3 * 100000;
  EXPECT_TRUE(g.take(100000, 6000));
  EXPECT_EQ(disk.calls, 2);
  EXPECT_EQ(g.estimate(), 10 * mib + 2 * 100000);
  // A clock that goes back makes the answer stale too.
  EXPECT_TRUE(g.take(100000, 10));
  EXPECT_EQ(disk.calls, 3);
}

TEST(free_space_guard, a_probe_that_fails_refuses_with_its_error) {
  fake_disk disk{0};
  free_space_guard g("/nowhere", 0, disk.probe(), 1000);
  auto r = g.take(1, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::io_error);
  EXPECT_NE(r.err().message().find("cannot tell the free space for the store: statvfs /nowhere"), std::string::npos)
      << r.err().message();
  EXPECT_FALSE(g.take(1, 500));  // the failure is kept for cache_ms too (no probe per write)
  EXPECT_EQ(disk.calls, 1);
  disk.free = 1000;
  EXPECT_TRUE(g.take(1, 1000));
}

TEST(free_space_guard, statvfs_reads_a_real_directory_and_fails_for_a_missing_one) {
  test::temp_dir tmp("freespace");
  auto free = statvfs_free_bytes(tmp.path());
  ASSERT_TRUE(free) << free.err().what();
  EXPECT_GT(*free, 0u);
  free_space_guard g(tmp.path(), 0);
  EXPECT_TRUE(g.take(1, 0));
  free_space_guard huge(tmp.path(), std::uint64_t{1} << 62);  // no disk has that much room
  EXPECT_EQ(huge.take(1, 0).err().code(), errc::quota_exceeded);
  auto missing = statvfs_free_bytes(tmp.path() / "missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.err().code(), errc::io_error);
}
