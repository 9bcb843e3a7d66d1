#pragma once
// Private, sans-I/O: where senders who are not contacts said they can be
// reached (docs/routing.md, "Where a peer can be reached"). A session's first
// (prekey) envelope carries its sender's signed card; when that sender is no
// contact, its card's addresses are remembered here, so the ack (and a reply)
// has a path even when the message came without a live connection (mail a
// relay held) or its connection is gone. Before, such an ack was sealed and
// dropped ("no address"), and the sender retried until its TTL.
//
// In memory only, bounded: the newest `max_peers` senders, `max_addresses`
// addresses each; in-process (/memory/) addresses are left out (a sender in
// another process cannot be one of ours). A contact's card, or a route in the
// config, comes first; these only add to them.

#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace aqua::routing {

class sender_addresses {
 public:
  static constexpr std::size_t max_addresses = 8;
  explicit sender_addresses(std::size_t max_peers = 4096) : max_(max_peers) {}

  // `peer`'s card lists `addresses` (the newest card wins).
  void learn(const std::string& peer, const std::vector<std::string>& addresses);
  // What `peer`'s card listed, or nothing.
  const std::vector<std::string>& of(const std::string& peer) const;
  std::size_t size() const { return by_peer_.size(); }

 private:
  std::size_t max_;
  std::unordered_map<std::string, std::vector<std::string>> by_peer_;
  std::deque<std::string> order_;  // oldest learned first, for the bound
};

} // namespace aqua::routing
