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

// When a node re-signs its card and rotates its signed prekey (cards.md, "Renewal"). A card is renewed once
// half its validity has passed (or when `force`d; or when there is none), so a running node's card never
// expires. The signed prekey is rotated at a renewal once it has been published for half of `validity_ms`
// and no valid card names the previous one any more (engine::signed_prekey_rotation_safe).
struct renewal_plan {
  bool renew = false;
  bool rotate = false;
};
renewal_plan plan_renewal(const engine& g, std::int64_t now_ms, std::int64_t validity_ms, bool force);

} // namespace aqua::e2ee
