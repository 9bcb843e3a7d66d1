#pragma once
// Private: the agent directory, a plain directory where the daemons of one
// host publish their agents' signed cards as <name>.card ("aqua-card-v1:..."
// text) and find the agents of the others (docs/agents.md, "Several
// daemons"). A card is self-authenticating (signed by the peer ID it names),
// so a file in the directory can only claim a name, never an identity.

#include <filesystem>
#include <string>
#include <vector>

#include "aqua/error.hpp"
#include "aqua/identity.hpp"
#include "e2ee/card.hpp"

namespace aqua::agents {

struct directory_entry {
  std::string name;
  std::string card_text;
  bytes card;                      // encoded, signature checked
  e2ee::contact_card verified;
};

result<void> publish_card(const std::filesystem::path& dir, const std::string& name, const std::string& card_text);
// Every valid <name>.card; unreadable or invalid ones are skipped with a warning.
std::vector<directory_entry> scan_directory(const std::filesystem::path& dir);
// The first address other processes can dial (not /memory/), or empty.
std::string remote_address(const e2ee::contact_card& c);

// Adds `card_text` to the contact book in `data_dir` as a verified contact
// named `alias` (without the alias if another peer holds it).
result<void> add_trusted_contact(const std::filesystem::path& data_dir, const std::string& card_text,
                                 const std::string& alias);
// Several at once (one load and one save of the book).
result<void> add_trusted_contacts(const std::filesystem::path& data_dir,
                                  const std::vector<std::pair<std::string, std::string>>& alias_and_card);

} // namespace aqua::agents
