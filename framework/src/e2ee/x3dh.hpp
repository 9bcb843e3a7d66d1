#pragma once
// Private, sans-I/O: aqua's X3DH-style asynchronous session setup
// (docs/protocol/sessions.md). The sender needs only the recipient's card.

#include "e2ee/card.hpp"
#include "e2ee/session.hpp"

namespace aqua::e2ee {

struct local_prekeys {
  x25519_keypair agreement;  // long-term, published in the card
  std::uint32_t signed_prekey_id = 1;
  x25519_keypair signed_prekey;
  // When the first card with the current signed prekey was made, and the latest expiry of such a card (0: none
  // made yet, or a state from before 2026-11-28).
  std::int64_t signed_prekey_published_ms = 0;
  std::int64_t signed_prekey_cards_until_ms = 0;
  // The one before the last rotation, still accepted until keep_until_ms (0: until the next rotation, a state
  // from before 2026-11-28). sessions.md, "Signed prekey rotation".
  struct retired_prekey {
    std::uint32_t id = 0;
    x25519_keypair kp;
    std::int64_t keep_until_ms = 0;
  };
  std::optional<retired_prekey> previous_signed_prekey;
  std::map<std::uint32_t, x25519_keypair> one_time;  // unused: published in our cards
  std::uint32_t next_one_time_id = 1;
  // Used once, kept until keep_until_ms for other initiators working from a copy of the same card
  // (sessions.md, "One-time prekeys").
  struct spent_prekey {
    x25519_keypair kp;
    std::int64_t keep_until_ms = 0;
  };
  std::map<std::uint32_t, spent_prekey> spent_one_time;
};

// Initiator: a new session to `their` (a verified card), carrying our signed
// card (encrypted) in its prekey block.
session x3dh_initiate(const local_prekeys& ours, const public_key& our_identity, const bytes& our_signed_card,
                      const contact_card& their, env& e);

// Responder half 1: recover the initiator's card from a prekey block.
// Errors: prekey_unavailable (unknown signed/one-time prekey id, or a spent
// one past its keep time),
// decrypt_failed, bad_card / bad_card_signature / unknown_version.
result<contact_card> x3dh_open_identity(const local_prekeys& ours, const peer_id& self, const prekey_block& pb);
// Responder half 2: the session for a verified initiator card.
result<session> x3dh_respond(const local_prekeys& ours, const public_key& our_identity, const prekey_block& pb,
                             const contact_card& initiator, std::int64_t now_ms);

} // namespace aqua::e2ee
