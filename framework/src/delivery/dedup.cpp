#include "delivery/dedup.hpp"

namespace aqua::delivery {

bool dedup_window::first_time(const std::string& sender, const std::string& message_id, std::int64_t now_ms) {
  if (!seen_.emplace(key(sender, message_id), now_ms).second) return false;
  order_.emplace_back(now_ms, dedup_entry{sender, message_id});
  return true;
}

std::deque<dedup_entry> dedup_window::prune(std::int64_t now_ms) {
  std::deque<dedup_entry> gone;
  while (!order_.empty() &&
         (order_.size() > limits_.max_ids || now_ms - order_.front().first > limits_.max_age_ms)) {
    // After forget() + first_time() an entry can stand twice in order_: only
    // the one whose time matches owns it.
    auto& front = order_.front();
    if (auto it = seen_.find(key(front.second.sender, front.second.message_id));
        it != seen_.end() && it->second == front.first) {
      seen_.erase(it);
      gone.push_back(std::move(front.second));
    }
    order_.pop_front();
  }
  return gone;
}

} // namespace aqua::delivery
