#pragma once
// Private: the signed contact cards a relay keeps for the peers that publish
// them (the card directory, docs/protocol/card-directory.md), under the
// store's `k/` prefix (docs/storage.md, "Card directory").
//
//   auto cd = card_directory::open(db, {}).value();
//   cd->put(publisher, card_bytes, now_ms, [](result<void> r) { ... });  // verified, then durable
//   cd->get(peer, now_ms);                                               // the card, unless expired
//   cd->expire(now_ms);                                                  // drops expired cards
//
// A card is kept only when it verifies (signature, validity window:
// e2ee::verify_card) and is the publisher's own: a relay hands out only
// cards their subjects published, and since each is self-signed a relay
// cannot forge one (it can withhold one, or keep an older one). A card older
// than the one held (created_ms) is refused: a replay cannot roll a peer's
// prekey back. Thread-safe; `done` runs exactly once, on the calling thread
// (refusals) or the store's committer thread.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"
#include "aqua/identity.hpp"
#include "store/store.hpp"

namespace aqua::store {

struct card_directory_limits {
  std::size_t max_cards = 100000;  // cards held; a new peer's PUBLISH past it is quota_exceeded
};

class card_directory {
 public:
  // Reads the `k/` records to rebuild the index (records that do not decode are skipped with a warning).
  static result<std::unique_ptr<card_directory>> open(std::shared_ptr<db> store, card_directory_limits limits = {});
  card_directory(const card_directory&) = delete;
  card_directory& operator=(const card_directory&) = delete;

  // Keeps `card` (encoded, cards.md) for `publisher`. done: ok once durable (also when the same card is held);
  // bad_card (does not decode), bad_card_signature, card_expired, wrong_recipient (the card is another
  // peer's), conflict (older than the one held), quota_exceeded (full of unexpired cards: expired ones are
  // dropped first, at most once a second), or the store's error.
  void put(const peer_id& publisher, bytes_view card, std::int64_t now_ms, std::function<void(result<void>)> done);
  // The card held for `peer` unless it expired by now_ms; nullopt when none.
  result<std::optional<bytes>> get(const peer_id& peer, std::int64_t now_ms) const;
  // Deletes up to `max` cards that expired by now_ms; returns how many.
  std::size_t expire(std::int64_t now_ms, std::size_t max = 1024);
  std::size_t size() const;

 private:
  struct entry {
    std::int64_t created_ms = 0, expires_ms = 0;
  };
  card_directory(std::shared_ptr<db> store, card_directory_limits limits)
      : store_(std::move(store)), limits_(limits) {}

  std::size_t expire_locked(std::int64_t now_ms, std::size_t max);  // mu_ held

  std::shared_ptr<db> store_;
  card_directory_limits limits_;
  mutable std::mutex mu_;
  std::map<std::string, entry> index_;  // peer ID text -> the held card's times
  std::int64_t last_full_expire_ms_ = INT64_MIN / 2;  // put's scan when full
};

inline constexpr const char* card_directory_prefix = "k/";

} // namespace aqua::store
