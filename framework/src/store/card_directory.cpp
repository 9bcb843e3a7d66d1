// card_directory: the relay's published cards under k/ (docs/storage.md, "Card directory").
#include "store/card_directory.hpp"

#include <spdlog/spdlog.h>

#include <vector>

#include "core/codec.hpp"
#include "e2ee/card.hpp"

namespace aqua::store {
namespace {

constexpr std::uint8_t record_version = 1;

// k/<peer id>: 0x01 || published_ms u64 || the encoded card.
bytes encode_record(std::int64_t published_ms, bytes_view card) {
  bytes out;
  out.push_back(record_version);
  codec::put_u64(out, static_cast<std::uint64_t>(published_ms));
  codec::put_bytes(out, card);
  return out;
}

std::optional<bytes_view> record_card(bytes_view value) {
  codec::reader r(value);
  std::uint8_t v = 0;
  std::uint64_t published = 0;
  bytes_view card;
  if (!r.u8(v) || v != record_version || !r.u64(published) || !r.take(r.left(), card) || card.empty())
    return std::nullopt;
  return card;
}

std::string key_of(const std::string& peer) { return std::string(card_directory_prefix) + peer; }

} // namespace

result<std::unique_ptr<card_directory>> card_directory::open(std::shared_ptr<db> store, card_directory_limits limits) {
  std::unique_ptr<card_directory> cd(new card_directory(std::move(store), limits));
  std::size_t skipped = 0;
  auto scan = cd->store_->scan(card_directory_prefix, [&](std::string_view key, std::string_view value) {
    auto card = record_card(as_bytes(value));
    auto decoded = card ? e2ee::decode_card(*card) : result<e2ee::contact_card>(error{errc::bad_card, "record"});
    const std::string peer(key.substr(std::string_view(card_directory_prefix).size()));
    if (!decoded || decoded->id().str() != peer) {
      ++skipped;
      return true;
    }
    cd->index_[peer] = entry{decoded->created_ms, decoded->expires_ms};
    return true;
  });
  if (!scan) return scan.err();
  if (skipped) spdlog::warn("card directory: {} record(s) under k/ that are no card of their peer skipped", skipped);
  return cd;
}

void card_directory::put(const peer_id& publisher, bytes_view card, std::int64_t now_ms,
                         std::function<void(result<void>)> done) {
  auto verified = e2ee::verify_card(card, now_ms);
  if (!verified) return done(verified.err());
  if (!(verified->id() == publisher))
    return done(error{errc::wrong_recipient, "card directory: the card is " + verified->id().str() +
                                                 "'s, published by " + publisher.str()});
  const std::string peer = publisher.str();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(peer);
    // Full: expired cards (which the periodic sweep drops later) make room first, at most once a second (a
    // scan of the whole index).
    if (it == index_.end() && index_.size() >= limits_.max_cards && now_ms - last_full_expire_ms_ >= 1000) {
      last_full_expire_ms_ = now_ms;
      expire_locked(now_ms, index_.size());
    }
    if (it == index_.end() && index_.size() >= limits_.max_cards)
      return done(error{errc::quota_exceeded, "card directory: full (" + std::to_string(limits_.max_cards) + " cards)"});
    if (it != index_.end() && verified->created_ms < it->second.created_ms)
      return done(error{errc::conflict, "card directory: the card is older than the one held for " + peer});
    // Recorded now, so a concurrent older card is refused; a failed write leaves the index ahead of the
    // store until the peer publishes again (get reads the store). Submitted under the lock: writes and the
    // sweep's deletes reach the store in the order the index saw them.
    index_[peer] = entry{verified->created_ms, verified->expires_ms};
    leveldb::WriteBatch b;
    const bytes value = encode_record(now_ms, card);
    b.Put(key_of(peer), as_slice(value));
    store_->submit(std::move(b), [done = std::move(done)](const result<void>& r) { done(r); });
  }
}

result<std::optional<bytes>> card_directory::get(const peer_id& peer, std::int64_t now_ms) const {
  const std::string p = peer.str();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(p);
    if (it == index_.end() || it->second.expires_ms <= now_ms) return std::optional<bytes>();
  }
  auto v = store_->get(key_of(p));
  if (!v) return v.err();
  if (!*v) return std::optional<bytes>();
  auto card = record_card(as_bytes(**v));
  if (!card) return error{errc::store_corrupt, "card directory: the record of " + p + " does not decode"};
  return std::optional<bytes>(bytes(card->begin(), card->end()));
}

std::size_t card_directory::expire(std::int64_t now_ms, std::size_t max) {
  std::lock_guard<std::mutex> lock(mu_);  // held while submitting: see put
  return expire_locked(now_ms, max);
}

std::size_t card_directory::expire_locked(std::int64_t now_ms, std::size_t max) {
  leveldb::WriteBatch b;
  std::size_t n = 0;
  for (auto it = index_.begin(); it != index_.end() && n < max;) {
    if (it->second.expires_ms <= now_ms) {
      b.Delete(key_of(it->first));
      it = index_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  if (n == 0) return 0;
  store_->submit(std::move(b), [n](const result<void>& r) {
    if (!r) spdlog::warn("card directory: deleting {} expired card(s) failed: {}", n, r.err().what());
  });
  return n;
}

std::size_t card_directory::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return index_.size();
}

} // namespace aqua::store
