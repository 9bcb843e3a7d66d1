#pragma once
// Test fixture: two parties (identity keypair + engine + signed card) on
// a shared deterministic clock/RNG, so every run produces the same bytes.

#include <memory>
#include <stdexcept>

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

inline std::uint32_t be32(const bytes& s, std::size_t at) {
  return std::uint32_t{s.at(at)} << 24 | std::uint32_t{s.at(at + 1)} << 16 | std::uint32_t{s.at(at + 2)} << 8 | s.at(at + 3);
}
// Offsets in the engine state encoding (sessions.md, "State encoding"): version, identity key, agreement key,
// signed prekey ID and key; version 4 then has two u64 times.
constexpr std::size_t after_spk = 1 + 32 + 32 + 4 + 32;

// The number of spent one-time prekeys a saved state holds.
inline std::uint32_t spent_count(const bytes& s) {
  const bool v4 = s.at(0) == e2ee::engine_state_version_rotation;
  std::size_t at = after_spk + (v4 ? 16 : 0);
  if (s.at(at++) != 0) at += 4 + (v4 ? 8 : 0) + 32;  // a previous signed prekey
  const auto n_otk = be32(s, at + 4);
  at += 8 + 36 * std::size_t{n_otk};
  return s.at(0) >= e2ee::engine_state_version_spent ? be32(s, at) : 0;
}

// A version 4 state (without a previous signed prekey) as an older aqua wrote it: without the signed prekey's
// times, and below version 3 without the count of spent one-time prekeys (which must be 0 then).
inline bytes legacy_state(bytes s, std::uint8_t version) {
  if (s.at(0) != e2ee::engine_state_version_rotation || s.at(after_spk + 16) != 0)
    throw std::logic_error("legacy_state: not a version 4 state without a previous signed prekey");
  s.erase(s.begin() + after_spk, s.begin() + after_spk + 16);
  if (version < e2ee::engine_state_version_spent) {
    const auto count_at = after_spk + 1 + 8 + 36 * std::size_t{be32(s, after_spk + 1 + 4)};
    if (be32(s, count_at) != 0) throw std::logic_error("legacy_state: spent one-time prekeys below version 3");
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(count_at), s.begin() + static_cast<std::ptrdiff_t>(count_at) + 4);
  }
  s[0] = version;
  return s;
}


inline std::array<std::uint8_t, e2ee::message_id_size> msg_id(std::uint32_t n) {
  std::array<std::uint8_t, e2ee::message_id_size> id{};
  for (int i = 0; i < 4; ++i) id[12 + i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
  return id;
}

inline std::string str(const bytes& b) { return {b.begin(), b.end()}; }

} // namespace aqua::test
