#pragma once
// Private: building and signing our own contact card.

#include <functional>

#include "e2ee/engine.hpp"

namespace aqua::e2ee {

inline constexpr std::int64_t default_card_validity_ms = 30LL * 24 * 3600 * 1000;

using signer = std::function<bytes(bytes_view)>;
// Builds our card, has `sign` sign it (the identity key's holder), installs
// it as the card our prekey envelopes carry, and returns it.
result<contact_card> make_own_card(engine& g, const signer& sign, std::vector<std::string> addresses,
                                   std::vector<std::string> capabilities, std::int64_t validity_ms);

} // namespace aqua::e2ee
