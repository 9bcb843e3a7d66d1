#pragma once
// Private: the engine's state file in the data dir (e2ee.state, mode 0600,
// written atomically) and our own signed card.

#include <filesystem>
#include <functional>

#include "e2ee/engine.hpp"

namespace aqua::e2ee {

inline constexpr const char* state_file_name = "e2ee.state";
inline constexpr std::int64_t default_card_validity_ms = 30LL * 24 * 3600 * 1000;

// Loads the state, or creates fresh keys when the file does not exist.
// errc::bad_session_state / unknown_version name the file when it is corrupt;
// a state belonging to another identity is refused.
result<engine> load_or_create_engine(const std::filesystem::path& file, const public_key& self,
                                     std::shared_ptr<env> e, engine_limits limits = {});
result<void> save_engine(const std::filesystem::path& file, const engine& g);

using signer = std::function<bytes(bytes_view)>;
// Builds our card, has `sign` sign it (the identity key's holder), installs
// it as the card our prekey envelopes carry, and returns it.
result<contact_card> make_own_card(engine& g, const signer& sign, std::vector<std::string> addresses,
                                   std::vector<std::string> capabilities, std::int64_t validity_ms);

} // namespace aqua::e2ee
