// free_space_guard: room left on the store's disk before a stranger's bytes are written.
#include "store/free_space.hpp"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace aqua::store {

namespace {
constexpr std::int64_t warn_interval_ms = 60000;

std::string mib(std::uint64_t n) {
  return std::to_string(n) + " bytes (" + std::to_string(n >> 20) + " MiB)";
}
} // namespace

result<std::uint64_t> statvfs_free_bytes(const std::filesystem::path& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0)
    return error{errc::io_error, "statvfs " + dir.string() + ": " + std::strerror(errno)};
  return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
}

free_space_guard::free_space_guard(std::filesystem::path dir, std::uint64_t reserve, free_space_probe probe,
                                   std::int64_t cache_ms)
    : dir_(std::move(dir)), reserve_(reserve), probe_(probe ? std::move(probe) : free_space_probe(statvfs_free_bytes)),
      cache_ms_(cache_ms) {}

bool free_space_guard::stale(std::int64_t now_ms) const {
  return !probed_ms_ || now_ms < *probed_ms_ || now_ms - *probed_ms_ >= cache_ms_;
}

std::optional<std::uint64_t> free_space_guard::estimate() const {
  if (!free_ || !*free_) return std::nullopt;
  const std::uint64_t seen = **free_;
  return seen > taken_ ? seen - taken_ : 0;
}

result<void> free_space_guard::take(std::uint64_t size, std::int64_t now_ms) {
  if (stale(now_ms)) {
    free_ = probe_(dir_);
    probed_ms_ = now_ms;
    taken_ = 0;
    ++probes_;
  }
  if (!*free_) return error{errc::io_error, "cannot tell the free space for the store: " + free_->err().message()};
  const std::uint64_t free = *estimate();
  if (free >= reserve_ && free - reserve_ >= size) {
    taken_ += size;
    if (refusing_) {
      spdlog::info("store: {} free on {} again: taking deposits", mib(free), dir_.string());
      refusing_ = false;
    }
    return ok();
  }
  log_refusal(free, now_ms);
  return error{errc::quota_exceeded, "the relay's disk is nearly full: " + mib(free) + " free on its store, " +
                                         std::to_string(size) + " more would leave less than the " + mib(reserve_) +
                                         " it keeps free (mailbox_min_free_bytes)"};
}

void free_space_guard::log_refusal(std::uint64_t free, std::int64_t now_ms) {
  refusing_ = true;
  ++refused_since_warning_;
  if (warned_ms_ && now_ms >= *warned_ms_ && now_ms - *warned_ms_ < warn_interval_ms) return;
  spdlog::warn("store: {} free on {}, keeps {} free (mailbox_min_free_bytes): refusing deposits "
               "({} refused since the last warning)",
               mib(free), dir_.string(), mib(reserve_), refused_since_warning_);
  warned_ms_ = now_ms;
  refused_since_warning_ = 0;
}

} // namespace aqua::store
