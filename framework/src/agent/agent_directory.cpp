#include "agent/agent_directory.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "aqua/env.hpp"
#include "contacts/contact_book.hpp"
#include "identity/key_store.hpp"

namespace aqua::agents {

namespace fs = std::filesystem;

result<void> publish_card(const fs::path& dir, const std::string& name, const std::string& card_text) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error{errc::io_error, "agent_directory: cannot create " + dir.string() + ": " + ec.message()};
  return write_file_atomic(dir / (name + ".card"), card_text + "\n", 0644);
}

std::vector<directory_entry> scan_directory(const fs::path& dir) {
  std::vector<directory_entry> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  std::size_t seen = 0;
  for (; !ec && it != end && seen < 4096; it.increment(ec), ++seen) {
    auto p = it->path();
    if (p.extension() != ".card") continue;
    std::ifstream in(p);
    std::string text;
    std::getline(in, text);
    auto raw = e2ee::card_from_text(text);
    if (!raw) {
      spdlog::warn("agent_directory: skipping {}: {}", p.string(), raw.err().what());
      continue;
    }
    auto card = e2ee::verify_card(*raw, system_env()->now_unix_ms());
    if (!card) {
      spdlog::warn("agent_directory: skipping {}: {}", p.string(), card.err().what());
      continue;
    }
    out.push_back({p.stem().string(), text, std::move(*raw), std::move(*card)});
  }
  return out;
}

std::string remote_address(const e2ee::contact_card& c) {
  for (auto& a : c.addresses)
    if (a.rfind("/memory/", 0) != 0) return a;
  return {};
}

result<void> add_trusted_contacts(const fs::path& data_dir,
                                  const std::vector<std::pair<std::string, std::string>>& alias_and_card) {
  auto book = contact_book::load(data_dir / contact_book::file_name);
  if (!book) return book.err();
  auto now = system_env()->now_unix_ms();
  for (auto& [alias, text] : alias_and_card) {
    auto raw = e2ee::card_from_text(text);
    if (!raw) return raw.err();
    auto card = e2ee::verify_card(*raw, now);
    if (!card) return card.err();
    auto added = book->add(*raw, *card, alias, now);
    if (!added) added = book->add(*raw, *card, "", now);  // alias taken by another peer
    if (!added) return added.err();
    if (auto c = book->find(card->id().str()); c && (*c)->trust == trust_state::unverified)
      (*c)->trust = trust_state::verified;  // vouched for by the daemon config; a block stays a block
  }
  return book->save();
}

result<void> add_trusted_contact(const fs::path& data_dir, const std::string& card_text, const std::string& alias) {
  return add_trusted_contacts(data_dir, {{alias, card_text}});
}

} // namespace aqua::agents
