#pragma once
// Private, sans-I/O: a rate limit for log lines that remote peers cause
// (rejected frames and envelopes, failed handshakes). A peer that sends
// 100,000 bad frames must not write 100,000 log lines: at most `burst`
// lines go out per `window_ms`; the rest are counted, and the next line
// that goes out carries how many were left out.
//
//   warn_limited(limit_, now_ms, "routing: rejected frame on {}: {}{}", transport, why);  // last {}: the note

#include <spdlog/spdlog.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace aqua {

class log_limit {
 public:
  explicit log_limit(std::uint32_t burst = 20, std::int64_t window_ms = 10000) : burst_(burst), window_ms_(window_ms) {}

  // Whether a line may go out at `now_ms`: then the number of lines left out since the last one that went out
  // (usually 0); nullopt to leave this one out.
  std::optional<std::uint64_t> allow(std::int64_t now_ms) {
    if (now_ms - window_start_ms_ >= window_ms_ || now_ms < window_start_ms_) {
      window_start_ms_ = now_ms;
      in_window_ = 0;
    }
    if (in_window_ >= burst_) {
      ++suppressed_;
      return std::nullopt;
    }
    ++in_window_;
    const auto n = suppressed_;
    suppressed_ = 0;
    return n;
  }
  std::uint64_t suppressed() const { return suppressed_; }

 private:
  std::uint32_t burst_;
  std::int64_t window_ms_;
  std::int64_t window_start_ms_ = INT64_MIN / 2;
  std::uint32_t in_window_ = 0;
  std::uint64_t suppressed_ = 0;
};

// " (N similar lines left out)" for N > 0, else "".
inline std::string suppressed_note(std::uint64_t n) {
  return n == 0 ? std::string() : " (" + std::to_string(n) + " similar line" + (n == 1 ? "" : "s") + " left out before this one)";
}

// spdlog::warn(f, args..., suppressed_note(n)) when `limit` lets a line out at `now_ms`: `f` ends with a {} for
// the note.
template <class... Args>
void warn_limited(log_limit& limit, std::int64_t now_ms, fmt::format_string<Args..., std::string> f, Args&&... args) {
  if (auto left_out = limit.allow(now_ms)) spdlog::warn(f, std::forward<Args>(args)..., suppressed_note(*left_out));
}

} // namespace aqua
