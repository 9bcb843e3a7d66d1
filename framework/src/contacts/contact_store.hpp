#pragma once
// Private: the node's contacts, durable in its LevelDB store as one record
// per peer under `c/<peer id>` (docs/storage.md). Thread-safe: the crypto
// actor (trust checks), routing (card addresses), the control API and the
// agent host share one instance inside a daemon; the CLI opens its own over
// the store when no daemon runs (the store admits one process at a time).
//
// Every change is one synced write; readers see it at once (no reload).

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>

#include "aqua/node.hpp"
#include "contacts/contact_book.hpp"

namespace aqua::store {
class db;
}

namespace aqua {

class contact_store {
 public:
  // Loads every c/ record (each card's signature is checked again). If
  // `legacy_json` (a contacts.json of aqua ≤ 0.1) exists, its contacts are
  // imported in the same write and the file is renamed to
  // contacts.json.imported, so the import happens once.
  static result<std::shared_ptr<contact_store>> open(std::shared_ptr<store::db> db,
                                                     const std::filesystem::path& legacy_json = {});

  // The node's own peer ID: its own card is refused as a contact (a node
  // never messages itself; send refuses that too).
  void set_owner(const peer_id& self);
  // Adds or refreshes a contact from card text (see contact_book::add).
  // `trust_new`: the trust state of a peer not known yet.
  result<contact> add(const std::string& card_text, const std::string& alias, std::int64_t now_ms,
                      trust_state trust_new = trust_state::unverified);
  // By peer ID text or alias; errc::not_found with a hint.
  result<contact> find(const std::string& who) const;
  std::optional<contact> find(const peer_id& id) const;
  // Whether `id` is a contact (any trust), without copying it.
  bool knows(const peer_id& id) const;
  // The contact's card expiry (Unix ms), nullopt for no contact.
  std::optional<std::int64_t> card_expiry(const peer_id& id) const;
  // errc::conflict for blocked -> verified (unblock first: verifying never lifts a block).
  result<contact> set_trust(const std::string& who, trust_state trust);
  // -> the removed contact's peer ID.
  result<peer_id> remove(const std::string& who);
  std::vector<contact> all() const;

 private:
  contact_store(std::shared_ptr<store::db> db, contact_book book) : db_(std::move(db)), book_(std::move(book)) {}
  result<void> persist(const contact& c);

  std::shared_ptr<store::db> db_;
  peer_id owner_;  // set once, before the store is shared
  mutable std::mutex mutex_;
  mutable contact_book book_;  // find(who) hands out pointers, hence mutable
};

// The public view of a contact (aqua/node.hpp).
contact_info describe(const contact& c);

// The record under c/<peer id>: version 1 || trust u8 || added_ms u64 ||
// alias (u16 length || bytes) || card (encoded). Decoding checks the card.
bytes encode_contact_record(const contact& c);
result<contact> decode_contact_record(std::string_view key, bytes_view value);
inline constexpr const char* contact_prefix = "c/";

} // namespace aqua
