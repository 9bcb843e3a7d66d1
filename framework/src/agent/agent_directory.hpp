#pragma once
// Private: the agent directory, a plain directory where the daemons of one
// host publish their agents' signed cards as <name>.card ("aqua-card-v1:..."
// text) and find the agents of the others (docs/agents.md, "Several
// daemons"). A card is self-authenticating (signed by the peer ID it names),
// so a file in the directory can only claim a name, never an identity.

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "aqua/node.hpp"

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
// Every valid <name>.card (at most max_directory_cards); unreadable or
// invalid ones are skipped with a warning — once per file version when
// `warned` is given (the directory is rescanned every second).
inline constexpr std::size_t max_directory_cards = 4096;
std::vector<directory_entry> scan_directory(const std::filesystem::path& dir, std::set<std::string>* warned = nullptr);
// Creates `dir` (0700 with the CLI's umask) if missing and checks that only
// this user (or root) can put files there: owned by us or root, not writable
// by group or others. Whoever can write a card there can claim an agent's name.
result<void> prepare_directory(const std::filesystem::path& dir);
// prepare_directory's checks without creating anything (a missing `dir` passes:
// it will be created private): what `config check` and serve check before start.
result<void> check_directory(const std::filesystem::path& dir);
// The first address other processes can dial (not /memory/), or empty.
std::string remote_address(const e2ee::contact_card& c);

// Adds each (alias, card text) to `n`'s contacts as verified (vouched for
// by the daemon config; a blocked contact stays blocked), named `alias`
// unless another peer holds that alias.
result<void> add_trusted_contacts(node& n, const std::vector<std::pair<std::string, std::string>>& alias_and_card);

} // namespace aqua::agents
