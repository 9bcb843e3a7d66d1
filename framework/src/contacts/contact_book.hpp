#pragma once
// Private: the contact book — verified cards of other peers, with an alias
// and a trust state (unverified / verified / blocked). An in-memory
// container; contact_store keeps it durable in the node's LevelDB store.
// Nodes of aqua <= 0.1 kept it as contacts.json in the data dir:
// load_json() reads that once, for the import.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "e2ee/card.hpp"

namespace aqua {

enum class trust_state { unverified, verified, blocked };
std::string_view to_string(trust_state t);
std::optional<trust_state> parse_trust(std::string_view s);

struct contact {
  peer_id id;
  std::string alias;
  trust_state trust = trust_state::unverified;
  bytes card;  // encoded, signature-checked when added
  std::int64_t added_ms = 0;
  std::int64_t card_expires_ms = 0;  // the card's (kept with it: node::send checks it without decoding)
};

class contact_book {
 public:
  static constexpr const char* legacy_file_name = "contacts.json";

  // A legacy contacts.json: a missing file is an empty book; a corrupt one
  // is errc::io_error naming the file.
  static result<contact_book> load_json(const std::filesystem::path& file);
  // Restores a stored contact (its card already checked).
  void put(contact c);

  // Adds or refreshes (a newer card keeps alias unless one is given, and keeps trust).
  // errc::invalid_argument for a malformed alias; errc::conflict when the alias is taken by another peer or the
  // stored card is newer.
  result<const contact*> add(bytes card, const e2ee::contact_card& verified, const std::string& alias, std::int64_t now_ms);
  // By peer ID text or alias; errc::not_found with a hint.
  result<contact*> find(const std::string& who);
  const contact* find(const peer_id& id) const;
  result<void> remove(const std::string& who);
  const std::vector<contact>& all() const { return contacts_; }

 private:
  std::vector<contact> contacts_;
};

} // namespace aqua
