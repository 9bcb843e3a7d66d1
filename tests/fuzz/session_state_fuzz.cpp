// Fuzz target: the versioned engine/session/ratchet state decoder.
// Property: whatever loads saves back to the identical bytes, except that a version 1 state (the layout of
// version 2, read with a stricter replay-window check) saves as version 2 (libFuzzer found that on 2026-11-28).
#include <algorithm>

#include "../framework/e2ee/e2ee_fixture.hpp"
#include "fuzz_target.hpp"

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  auto env = std::make_shared<aqua::deterministic_env>(3);
  auto alice = aqua::test::party::make(0, env);
  auto bob = aqua::test::party::make(1, env);
  auto card = bob.verified_card(env->now_unix_ms());
  std::vector<std::vector<std::uint8_t>> out{alice.engine.save()};
  for (std::uint32_t i = 0; i < 3; ++i) {
    auto m = alice.engine.seal(bob.id(), &card, aqua::as_bytes("x"), aqua::test::msg_id(i), env->now_unix_ms() + 3600000);
    if (i != 1) (void) bob.engine.open(*m);  // leave a gap: skipped keys in the state
  }
  out.push_back(alice.engine.save());
  out.push_back(bob.engine.save());
  // The same states as older aqua wrote them: version 1 (alice has no spent one-time prekeys), version 3 (bob has)
  out.push_back(aqua::test::legacy_state(alice.engine.save(), 1));
  out.push_back(aqua::test::legacy_state(bob.engine.save(), aqua::e2ee::engine_state_version_spent));
  bob.engine.rotate_signed_prekey();  // version 4 with a previous signed prekey and its keep time
  out.push_back(bob.engine.save());
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto env = std::make_shared<aqua::deterministic_env>(5);
  auto g = aqua::e2ee::engine::load(aqua::bytes_view(data, size), env);
  if (g) {
    auto again = g->save();
    const std::uint8_t version = data[0] == 1 ? aqua::e2ee::engine_state_version : data[0];
    AQUA_FUZZ_CHECK(again.size() == size && again[0] == version && std::equal(again.begin() + 1, again.end(), data + 1));
  }
  return 0;
}
