#pragma once
// Private, sans-I/O: the receiver's dedup window over (sender, message id)
// pairs (docs/protocol/delivery.md). Message IDs are the senders' choice, so
// the same ID from two senders is two messages. Bounded by age and by count;
// the store keeps the same window under d/ keys so it survives restarts.

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

// One message as the window knows it.
struct dedup_entry {
  std::string sender;      // peer ID (text)
  std::string message_id;  // hex
};

class dedup_window {
 public:
  explicit dedup_window(dedup_limits l = {}) : limits_(l) {}
  // true: first time `sender` sent this id (deliver to the app); false: duplicate (ack again, do not deliver).
  bool first_time(const std::string& sender, const std::string& message_id, std::int64_t now_ms);
  bool contains(const std::string& sender, const std::string& message_id) const {
    return seen_.count(key(sender, message_id)) != 0;
  }
  // Undo first_time() when the record could not be stored (the retry must not look like a duplicate).
  void forget(const std::string& sender, const std::string& message_id) { seen_.erase(key(sender, message_id)); }
  // Entries that fell out of the window (the caller deletes their d/ keys).
  std::deque<dedup_entry> prune(std::int64_t now_ms);
  std::size_t size() const { return seen_.size(); }

 private:
  // Both parts, hashed together with the random key: NUL is in neither a hex id nor a peer ID.
  static std::string key(const std::string& sender, const std::string& message_id) {
    std::string k = message_id;
    k += '\0';
    k += sender;
    return k;
  }
  dedup_limits limits_;
  std::unordered_map<std::string, std::int64_t, detail::keyed_hasher> seen_;  // IDs are the senders' choice
  std::deque<std::pair<std::int64_t, dedup_entry>> order_;
};

} // namespace aqua::delivery
