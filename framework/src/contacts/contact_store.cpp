#include "contacts/contact_store.hpp"

#include <leveldb/write_batch.h>

#include "core/codec.hpp"
#include "store/store.hpp"

namespace aqua {
namespace {

constexpr std::uint8_t record_version = 1;
constexpr std::size_t max_alias = 64;
constexpr std::size_t max_card = 64 * 1024;

std::string key_of(const peer_id& id) { return contact_prefix + id.str(); }

} // namespace

contact_info describe(const contact& c) {
  contact_info out;
  out.id = c.id;
  out.alias = c.alias;
  out.trust = std::string(to_string(c.trust));
  out.added_unix_ms = c.added_ms;
  if (auto card = e2ee::decode_card(c.card)) {
    out.card = e2ee::card_to_text(*card);
    out.addresses = card->addresses;
    out.card_expires_unix_ms = card->expires_ms;
  }
  return out;
}

bytes encode_contact_record(const contact& c) {
  bytes out;
  out.push_back(record_version);
  out.push_back(static_cast<std::uint8_t>(c.trust));
  codec::put_u64(out, static_cast<std::uint64_t>(c.added_ms));
  codec::put_str(out, c.alias);
  out.insert(out.end(), c.card.begin(), c.card.end());
  return out;
}

result<contact> decode_contact_record(std::string_view key, bytes_view value) {
  auto where = "contact record '" + std::string(key) + "'";
  codec::reader r(value);
  std::uint8_t version = 0, trust = 0;
  std::uint64_t added = 0;
  contact c;
  if (!r.u8(version)) return error{errc::store_corrupt, where + " is empty"};
  if (version != record_version)
    return error{errc::unknown_version, where + " has version " + std::to_string(version) + " (this aqua reads 1)"};
  if (!r.u8(trust) || trust > static_cast<std::uint8_t>(trust_state::blocked) || !r.u64(added) ||
      !r.str(c.alias, max_alias) || r.left() == 0 || r.left() > max_card)
    return error{errc::store_corrupt, where + " is malformed"};
  bytes_view card;
  r.take(r.left(), card);
  c.card.assign(card.begin(), card.end());
  auto decoded = e2ee::decode_card(c.card);
  if (!decoded) return error{errc::store_corrupt, where + ": " + decoded.err().message()};
  if (!decoded->identity.verify(e2ee::card_signing_input(*decoded), decoded->signature))
    return error{errc::bad_card_signature, where + ": stored card does not verify"};
  c.id = decoded->id();
  c.card_expires_ms = decoded->expires_ms;
  if (key.substr(std::string_view(contact_prefix).size()) != c.id.str())
    return error{errc::store_corrupt, where + " holds the card of " + c.id.str()};
  c.trust = static_cast<trust_state>(trust);
  c.added_ms = static_cast<std::int64_t>(added);
  return c;
}

result<std::shared_ptr<contact_store>> contact_store::open(std::shared_ptr<store::db> db,
                                                           const std::filesystem::path& legacy_json) {
  contact_book book;
  std::optional<error> failure;
  auto scanned = db->scan(contact_prefix, [&](std::string_view k, std::string_view v) {
    auto c = decode_contact_record(k, bytes_view(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
    if (!c) {
      failure = c.err();
      return false;
    }
    book.put(std::move(*c));
    return true;
  });
  if (!scanned) return scanned.err();
  if (failure) return *failure;
  std::error_code ec;
  if (!legacy_json.empty() && std::filesystem::exists(legacy_json, ec)) {
    auto old = contact_book::load_json(legacy_json);
    if (!old) return error{old.err().code(), "importing " + old.err().message()};
    leveldb::WriteBatch b;
    for (auto& c : old->all()) {
      if (book.find(c.id)) continue;  // the store's record is newer
      auto rec = encode_contact_record(c);
      b.Put(key_of(c.id), store::as_slice(rec));
      book.put(c);
    }
    if (auto r = db->write(std::move(b)); !r) return r.err();
    auto done = legacy_json;
    done += ".imported";
    std::filesystem::rename(legacy_json, done, ec);
    if (ec)
      return error{errc::io_error, "imported " + legacy_json.string() + " but cannot rename it: " + ec.message()};
  }
  return std::shared_ptr<contact_store>(new contact_store(std::move(db), std::move(book)));
}

result<void> contact_store::persist(const contact& c) {
  leveldb::WriteBatch b;
  auto rec = encode_contact_record(c);
  b.Put(key_of(c.id), store::as_slice(rec));
  return db_->write(std::move(b));
}

void contact_store::set_owner(const peer_id& self) { owner_ = self; }

result<contact> contact_store::add(const std::string& card_text, const std::string& alias, std::int64_t now_ms,
                                   trust_state trust_new) {
  auto raw = e2ee::card_from_text(card_text);
  if (!raw) return raw.err();
  auto card = e2ee::verify_card(*raw, now_ms);
  if (!card) return card.err();
  if (!owner_.empty() && card->id() == owner_)
    return error{errc::invalid_argument, "this is this node's own card (" + owner_.str() + "): a node is not its own contact"};
  std::lock_guard lock(mutex_);
  const bool known = book_.find(card->id()) != nullptr;
  auto before = book_;  // undo on a failed write: memory never runs ahead of the disk
  auto added = book_.add(*raw, *card, alias, now_ms);
  if (!added) return added.err();
  contact c = **added;
  if (!known) {
    c.trust = trust_new;
    book_.put(c);
  }
  if (auto r = persist(c); !r) {
    book_ = std::move(before);
    return r.err();
  }
  return c;
}

result<contact> contact_store::find(const std::string& who) const {
  std::lock_guard lock(mutex_);
  auto c = book_.find(who);
  if (!c) return c.err();
  return **c;
}

std::optional<contact> contact_store::find(const peer_id& id) const {
  std::lock_guard lock(mutex_);
  if (auto* c = book_.find(id)) return *c;
  return std::nullopt;
}

bool contact_store::knows(const peer_id& id) const {
  std::lock_guard lock(mutex_);
  return book_.find(id) != nullptr;
}

std::optional<std::int64_t> contact_store::card_expiry(const peer_id& id) const {
  std::lock_guard lock(mutex_);
  auto* c = book_.find(id);
  return c ? std::optional<std::int64_t>(c->card_expires_ms) : std::nullopt;
}

result<contact> contact_store::set_trust(const std::string& who, trust_state trust) {
  std::lock_guard lock(mutex_);
  auto c = book_.find(who);
  if (!c) return c.err();
  if ((*c)->trust == trust_state::blocked && trust == trust_state::verified)  // verifying never lifts a block
    return error{errc::conflict, "contact '" + who + "' (" + (*c)->id.str() + ") is blocked: unblock it first ('aqua " +
                                   "contacts unblock " + who + "'), then verify it"};
  contact updated = **c;
  updated.trust = trust;
  if (auto r = persist(updated); !r) return r.err();
  (*c)->trust = trust;
  return updated;
}

result<peer_id> contact_store::remove(const std::string& who) {
  std::lock_guard lock(mutex_);
  auto c = book_.find(who);
  if (!c) return c.err();
  auto id = (*c)->id;
  leveldb::WriteBatch b;
  b.Delete(key_of(id));
  if (auto r = db_->write(std::move(b)); !r) return r.err();
  (void) book_.remove(who);
  return id;
}

std::vector<contact> contact_store::all() const {
  std::lock_guard lock(mutex_);
  return book_.all();
}

} // namespace aqua
