#include "contacts/contact_book.hpp"

#include <nlohmann/json.hpp>

#include "core/bounded_read.hpp"

namespace aqua {

std::string_view to_string(trust_state t) {
  switch (t) {
    case trust_state::unverified: return "unverified";
    case trust_state::verified: return "verified";
    case trust_state::blocked: return "blocked";
  }
  return "unverified";
}

std::optional<trust_state> parse_trust(std::string_view s) {
  if (s == "unverified") return trust_state::unverified;
  if (s == "verified") return trust_state::verified;
  if (s == "blocked") return trust_state::blocked;
  return std::nullopt;
}

namespace {

bool valid_alias(const std::string& a) {
  if (a.empty() || a.size() > 64 || a.rfind("12D3KooW", 0) == 0) return false;
  for (char c : a)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

} // namespace

result<contact_book> contact_book::load_json(const std::filesystem::path& file) {
  contact_book book;
  auto where = "contact book '" + file.string() + "'";
  auto text = detail::read_file_bounded(file, 64u << 20, where, errc::io_error);
  if (!text) return text.err().code() == errc::not_found ? result<contact_book>(std::move(book)) : text.err();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error{errc::io_error, where + " is not valid JSON"};
  if (auto v = j.find("version"); v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() != 1)
    return error{errc::unknown_version, where + ": unknown version"};
  if (!j.contains("contacts") || !j["contacts"].is_array()) return error{errc::io_error, where + ": no contacts list"};
  std::size_t i = 0;
  for (auto& c : j["contacts"]) {
    auto at = where + " entry " + std::to_string(i++);
    if (!c.is_object() || !c.contains("card") || !c["card"].is_string() || !c.contains("trust") || !c["trust"].is_string())
      return error{errc::io_error, at + ": missing card or trust"};
    if ((c.contains("alias") && !c["alias"].is_string()) || (c.contains("added_ms") && !c["added_ms"].is_number_integer()))
      return error{errc::io_error, at + ": 'alias' must be a string and 'added_ms' an integer"};
    auto raw = e2ee::card_from_text(c["card"].get<std::string>());
    if (!raw) return error{raw.err().code(), at + ": " + raw.err().message()};
    auto card = e2ee::decode_card(*raw);
    if (!card) return error{card.err().code(), at + ": " + card.err().message()};
    if (!card->identity.verify(e2ee::card_signing_input(*card), card->signature))
      return error{errc::bad_card_signature, at + ": stored card does not verify (file tampered?)"};
    auto trust = parse_trust(c["trust"].get<std::string>());
    if (!trust) return error{errc::io_error, at + ": unknown trust state"};
    contact ct;
    ct.id = card->id();
    ct.alias = c.value("alias", "");
    // The same rules as 'contacts add': an alias the store's records refuse would make every later start fail,
    // and a duplicate or a peer-ID-like alias would make 'contacts block X' pick the wrong contact.
    if (!ct.alias.empty() && !valid_alias(ct.alias))
      return error{errc::invalid_argument, at + ": alias '" + ct.alias + "' must be 1-64 of [A-Za-z0-9._-] and not look like a peer ID"};
    for (auto& other : book.contacts_)
      if (!ct.alias.empty() && other.alias == ct.alias)
        return error{errc::invalid_argument, at + ": alias '" + ct.alias + "' already names " + other.id.str()};
    ct.trust = *trust;
    ct.card = *raw;
    ct.card_expires_ms = card->expires_ms;
    ct.added_ms = c.value("added_ms", std::int64_t{0});
    book.contacts_.push_back(std::move(ct));
  }
  return book;
}

void contact_book::put(contact c) {
  for (auto& existing : contacts_)
    if (existing.id == c.id) {
      existing = std::move(c);
      return;
    }
  contacts_.push_back(std::move(c));
}

result<const contact*> contact_book::add(bytes card, const e2ee::contact_card& verified, const std::string& alias,
                                         std::int64_t now_ms) {
  if (!alias.empty() && !valid_alias(alias))
    return error{errc::invalid_argument, "alias '" + alias + "' must be 1-64 of [A-Za-z0-9._-] and not look like a peer ID"};
  // New aliases only (stored ones still load): "-x" was taken, and then 'aqua send -x hi' read it as an option.
  if (!alias.empty() && alias[0] == '-')
    return error{errc::invalid_argument, "alias '" + alias + "' must not start with '-' (the CLI would read it as an option)"};
  auto id = verified.id();
  for (auto& c : contacts_)
    if (!alias.empty() && c.alias == alias && !(c.id == id))
      return error{errc::conflict, "alias '" + alias + "' already names " + c.id.str()};
  for (auto& c : contacts_) {
    if (c.id == id) {
      auto old = e2ee::decode_card(c.card);
      if (old && old->created_ms > verified.created_ms)
        return error{errc::conflict, "the stored card of " + id.str() + " is newer than this one"};
      c.card = std::move(card);
      c.card_expires_ms = verified.expires_ms;
      if (!alias.empty()) c.alias = alias;
      return &c;
    }
  }
  contacts_.push_back(contact{id, alias, trust_state::unverified, std::move(card), now_ms, verified.expires_ms});
  return &contacts_.back();
}

result<contact*> contact_book::find(const std::string& who) {
  for (auto& c : contacts_)
    if ((!c.alias.empty() && c.alias == who) || c.id.str() == who) return &c;
  return error{errc::not_found, "no contact '" + who + "' (see 'aqua contacts list')"};
}

const contact* contact_book::find(const peer_id& id) const {
  for (auto& c : contacts_)
    if (c.id == id) return &c;
  return nullptr;
}

result<void> contact_book::remove(const std::string& who) {
  auto c = find(who);
  if (!c) return c.err();
  contacts_.erase(contacts_.begin() + (*c - contacts_.data()));
  return ok();
}

} // namespace aqua
