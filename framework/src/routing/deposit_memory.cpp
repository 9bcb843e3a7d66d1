#include "routing/deposit_memory.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>

namespace aqua::routing {

std::string deposit_memory::key(const std::string& peer, bytes_view frame) {
  std::array<std::uint8_t, 16> h{};
  crypto_generichash(h.data(), h.size(), frame.data(), frame.size(), nullptr, 0);
  return peer + "/" + std::string(h.begin(), h.end());
}

namespace {
constexpr std::size_t hash_part = 17;  // "/" and 16 bytes of hash after the peer
} // namespace

void deposit_memory::deposited(const std::string& peer, bytes_view frame, const std::string& relay,
                               std::int64_t now_ms) {
  auto k = key(peer, frame);
  if (deposits_.insert_or_assign(k, deposit{now_ms, relay}).second) {
    order_.push_back(std::move(k));
    ++per_peer_[peer];
  }
  trim();
}

std::optional<std::string> deposit_memory::held(const std::string& peer, bytes_view frame, std::int64_t now_ms) const {
  auto it = deposits_.find(key(peer, frame));
  if (it == deposits_.end() || now_ms - it->second.when >= keep_ms_) return std::nullopt;
  auto seen = online_.find(peer);
  if (seen != online_.end() && seen->second >= it->second.when) return std::nullopt;
  return it->second.relay;
}

void deposit_memory::seen_online(const std::string& peer, std::int64_t now_ms) {
  if (!per_peer_.count(peer)) return;  // nothing deposited for it: nothing to forget
  auto& t = online_[peer];
  t = std::max(t, now_ms);
}

void deposit_memory::trim() {
  while (order_.size() > max_) {
    const std::string peer = order_.front().substr(0, order_.front().size() - hash_part);
    deposits_.erase(order_.front());
    order_.pop_front();
    if (auto it = per_peer_.find(peer); it != per_peer_.end() && --it->second == 0) {
      per_peer_.erase(it);
      online_.erase(peer);
    }
  }
}

} // namespace aqua::routing
