#include "delivery/dedup.hpp"

namespace aqua::delivery {

bool dedup_window::first_time(const std::string& message_id, std::int64_t now_ms) {
  if (!seen_.emplace(message_id, now_ms).second) return false;
  order_.emplace_back(now_ms, message_id);
  return true;
}

std::deque<std::string> dedup_window::prune(std::int64_t now_ms) {
  std::deque<std::string> gone;
  while (!order_.empty() &&
         (order_.size() > limits_.max_ids || now_ms - order_.front().first > limits_.max_age_ms)) {
    // After forget() + first_time() an id can stand twice in order_: only
    // the entry whose time matches owns the id.
    if (auto it = seen_.find(order_.front().second); it != seen_.end() && it->second == order_.front().first) {
      seen_.erase(it);
      gone.push_back(std::move(order_.front().second));
    }
    order_.pop_front();
  }
  return gone;
}

} // namespace aqua::delivery
