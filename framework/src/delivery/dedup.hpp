#pragma once
// Private, sans-I/O: the receiver's dedup window over message ids
// (docs/protocol/delivery.md). Bounded by age and by count; the store keeps
// the same window under d/ keys so it survives restarts.

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

#include "core/keyed_hash.hpp"

namespace aqua::delivery {

struct dedup_limits {
  std::size_t max_ids = 1000000;
  std::int64_t max_age_ms = 7LL * 24 * 3600 * 1000;
};

class dedup_window {
 public:
  explicit dedup_window(dedup_limits l = {}) : limits_(l) {}
  // true: first time seen (deliver to the app); false: duplicate (ack again, do not deliver).
  bool first_time(const std::string& message_id, std::int64_t now_ms);
  bool contains(const std::string& message_id) const { return seen_.count(message_id) != 0; }
  // Undo first_time() when the record could not be stored (the retry must not look like a duplicate).
  void forget(const std::string& message_id) { seen_.erase(message_id); }
  // Ids that fell out of the window (the caller deletes their d/ keys).
  std::deque<std::string> prune(std::int64_t now_ms);
  std::size_t size() const { return seen_.size(); }

 private:
  dedup_limits limits_;
  std::unordered_map<std::string, std::int64_t, detail::keyed_hasher> seen_;  // IDs are the senders' choice
  std::deque<std::pair<std::int64_t, std::string>> order_;
};

} // namespace aqua::delivery
