#pragma once
// Private: keeps a writer that takes bytes from strangers (the relay's
// mailbox, store/held_mail.hpp) from filling the disk under the store. A
// full disk is fatal to the store: its first failed write stops it
// (store.hpp, "Fail-stop"), the daemon ends, and LevelDB cannot even reopen
// without room for its log and a compaction.
//
//   free_space_guard g(dir, 256 << 20);           // statvfs(dir)
//   if (auto r = g.take(bytes_to_write, now_ms); !r) refuse(r.err());
//
// take() asks whether `size` more bytes still leave `reserve` bytes free and,
// if so, counts them as taken. The free space comes from a probe
// (statvfs: f_bavail * f_frsize, what an unprivileged writer may use) that is
// asked at most once per cache_ms; between probes the bytes taken since the
// last one are subtracted from its answer, so the estimate is never above
// what the probe saw (bytes freed meanwhile count only at the next probe).
// Sans-I/O but for the probe, which tests replace. Not thread-safe: the
// owner serialises calls (held_mail calls it under its mutex).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>

#include "aqua/error.hpp"

namespace aqua::store {

// Bytes an unprivileged writer may still use on the filesystem holding the directory; io_error.
using free_space_probe = std::function<result<std::uint64_t>(const std::filesystem::path& dir)>;
result<std::uint64_t> statvfs_free_bytes(const std::filesystem::path& dir);

class free_space_guard {
 public:
  static constexpr std::int64_t default_cache_ms = 1000;

  // probe empty: statvfs_free_bytes.
  free_space_guard(std::filesystem::path dir, std::uint64_t reserve, free_space_probe probe = {},
                   std::int64_t cache_ms = default_cache_ms);

  // ok, and `size` bytes are counted as taken; quota_exceeded naming the free space and the reserve; or the
  // probe's error (then nothing is taken: the caller should not write). now_ms: any clock that moves forward
  // (one that goes back also makes the answer stale).
  result<void> take(std::uint64_t size, std::int64_t now_ms);

  std::uint64_t reserve() const noexcept { return reserve_; }
  // What take() compares against: the last probe's answer minus the bytes taken since (none before the first).
  std::optional<std::uint64_t> estimate() const;
  std::uint64_t probes() const noexcept { return probes_; }
  const std::filesystem::path& dir() const noexcept { return dir_; }

 private:
  bool stale(std::int64_t now_ms) const;
  void log_refusal(std::uint64_t free, std::int64_t now_ms);

  std::filesystem::path dir_;
  std::uint64_t reserve_;
  free_space_probe probe_;
  std::int64_t cache_ms_;
  std::optional<std::int64_t> probed_ms_;         // when the last probe ran
  std::optional<result<std::uint64_t>> free_;     // its answer
  std::uint64_t taken_ = 0;                       // bytes granted since
  std::uint64_t probes_ = 0;
  // Refusals are logged at most once a minute (with how many there were), and the end of a refusing spell once.
  std::optional<std::int64_t> warned_ms_;
  std::uint64_t refused_since_warning_ = 0;
  bool refusing_ = false;
};

} // namespace aqua::store
