// Fuzz target: envelopes through the whole open path of a live engine
// (decode, tag lookup, prekey handling, header and ratchet) plus the ratchet
// header codec. Properties: a decoded envelope re-encodes identically; a
// rejected input never breaks the session (a genuine message still opens).
#include <algorithm>

#include "../framework/e2ee/e2ee_fixture.hpp"
#include "e2ee/ratchet.hpp"
#include "fuzz_target.hpp"

namespace {
struct world {
  std::shared_ptr<aqua::deterministic_env> env = std::make_shared<aqua::deterministic_env>(3);
  aqua::test::party alice = aqua::test::party::make(0, env);
  aqua::test::party bob = aqua::test::party::make(1, env);
  std::vector<std::vector<std::uint8_t>> msgs;
  std::uint32_t next = 100;
  world() {
    auto card = bob.verified_card(env->now_unix_ms());
    for (const char* t : {"first", "second", "third"})
      msgs.push_back(*alice.engine.seal(bob.id(), &card, aqua::as_bytes(t), aqua::test::msg_id(next++),
                                        env->now_unix_ms() + 3600000));
    (void) bob.engine.open(msgs[0]);  // bob has the session; msgs[1..] still unopened
  }
};
world& w() {
  static world instance;
  return instance;
}
} // namespace

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() { return w().msgs; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  aqua::bytes_view in(data, size);
  if (auto e = aqua::e2ee::decode_envelope(in, 1 << 20)) {
    auto again = aqua::e2ee::encode_envelope(*e);
    AQUA_FUZZ_CHECK(again.size() == size && std::equal(again.begin(), again.end(), data));
  }
  if (size >= aqua::e2ee::ratchet_header_size)
    if (auto h = aqua::e2ee::ratchet_header::decode(in.first(aqua::e2ee::ratchet_header_size)))
      AQUA_FUZZ_CHECK(h->encode().size() == aqua::e2ee::ratchet_header_size);
  auto& world = w();
  auto r = world.bob.engine.open(in);
  if (r) {
    // Only genuine messages may open: they come from alice, unchanged.
    AQUA_FUZZ_CHECK(r->sender == world.alice.id());
    bool genuine = false;
    for (auto& m : world.msgs) genuine = genuine || (m.size() == size && std::equal(m.begin(), m.end(), data));
    AQUA_FUZZ_CHECK(genuine);
    // keep the session usable: send a fresh message and check it opens
    auto fresh = world.alice.engine.seal(world.bob.id(), nullptr, aqua::as_bytes("fresh"), aqua::test::msg_id(world.next++),
                                         world.env->now_unix_ms() + 3600000);
    AQUA_FUZZ_CHECK(fresh.has_value());
    world.msgs.push_back(*fresh);
  }
  return 0;
}
