#pragma once
// Test fixture: two parties (identity keypair + engine + signed card) on
// a shared deterministic clock/RNG, so every run produces the same bytes.

#include <memory>

#include "e2ee/engine.hpp"
#include "identity/keypair.hpp"

namespace aqua::test {

struct party {
  keypair identity;
  e2ee::engine engine;
  bytes card;  // signed

  static party make(std::uint8_t seed, std::shared_ptr<deterministic_env> env, e2ee::engine_limits lim = {}) {
    auto kp = keypair::from_seed(bytes(32, seed)).value();
    auto eng = e2ee::engine::create(kp.pub(), env, lim);
    auto c = eng.card_template({"/memory/p" + std::to_string(seed)}, {"chat", "agent/v1"}, 30LL * 24 * 3600 * 1000);
    c.signature = kp.sign(e2ee::card_signing_input(c));
    auto signed_card = e2ee::encode_card(c);
    eng.set_own_card(signed_card);
    return party{kp, std::move(eng), signed_card};
  }
  peer_id id() const { return identity.id(); }
  e2ee::contact_card verified_card(std::int64_t now) const { return e2ee::verify_card(card, now).value(); }
};

inline std::array<std::uint8_t, e2ee::message_id_size> msg_id(std::uint32_t n) {
  std::array<std::uint8_t, e2ee::message_id_size> id{};
  for (int i = 0; i < 4; ++i) id[12 + i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
  return id;
}

inline std::string str(const bytes& b) { return {b.begin(), b.end()}; }

} // namespace aqua::test
