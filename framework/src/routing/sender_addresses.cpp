#include "routing/sender_addresses.hpp"

#include <algorithm>

#include "routing/path_table.hpp"

namespace aqua::routing {

void sender_addresses::learn(const std::string& peer, const std::vector<std::string>& addresses) {
  std::vector<std::string> kept;
  for (const auto& a : addresses)
    if (!in_process(a) && std::find(kept.begin(), kept.end(), a) == kept.end() && kept.size() < max_addresses)
      kept.push_back(a);
  auto it = by_peer_.find(peer);
  if (kept.empty()) {  // a newer card without addresses: the old ones are no longer claimed
    if (it != by_peer_.end()) {
      by_peer_.erase(it);
      order_.erase(std::find(order_.begin(), order_.end(), peer));
    }
    return;
  }
  if (it != by_peer_.end()) {
    it->second = std::move(kept);
    order_.erase(std::find(order_.begin(), order_.end(), peer));
  } else {
    by_peer_.emplace(peer, std::move(kept));
  }
  order_.push_back(peer);
  while (by_peer_.size() > max_) {
    by_peer_.erase(order_.front());
    order_.pop_front();
  }
}

const std::vector<std::string>& sender_addresses::of(const std::string& peer) const {
  static const std::vector<std::string> none;
  auto it = by_peer_.find(peer);
  return it == by_peer_.end() ? none : it->second;
}

} // namespace aqua::routing
