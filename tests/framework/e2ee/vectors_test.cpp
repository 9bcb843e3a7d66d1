// Test vectors: fixed keys, fixed clock and a seeded RNG give exact bytes,
// kept in tests/data/vectors/e2ee.txt ("name hex" lines). Regenerate only
// on a deliberate format change: AQUA_WRITE_VECTORS=1 aqua_tests --gtest_filter=vectors.*
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "e2ee/session.hpp"
#include "e2ee_fixture.hpp"

using namespace aqua;
using namespace aqua::e2ee;

namespace {

const char* vector_file = AQUA_SOURCE_DIR "/tests/data/vectors/e2ee.txt";

std::map<std::string, std::string> compute() {
  std::map<std::string, std::string> v;
  // HKDF-SHA256: RFC 5869 test case 1.
  auto ikm = bytes(22, 0x0b);
  auto salt = from_hex("000102030405060708090a0b0c").value();
  auto info = from_hex("f0f1f2f3f4f5f6f7f8f9").value();
  bytes okm(42);
  hkdf_sha256(salt, ikm, info, okm);
  v["hkdf_rfc5869_case1"] = to_hex(okm);
  key32 tk{};
  tk.fill(0x11);
  v["tag_key11_seq0"] = to_hex(message_tag(tk, 0));
  v["tag_key11_seq1"] = to_hex(message_tag(tk, 1));

  auto env = std::make_shared<deterministic_env>(3, 1700000000000);
  auto alice = test::party::make(0, env);
  auto bob = test::party::make(1, env);
  v["card_alice"] = to_hex(alice.card);
  v["card_bob"] = to_hex(bob.card);
  auto card_b = bob.verified_card(env->now_unix_ms());
  auto m1 = alice.engine.seal(bob.id(), &card_b, as_bytes("hello bob"), test::msg_id(1), env->now_unix_ms() + 3600000);
  v["envelope_alice_to_bob_prekey"] = to_hex(*m1);
  auto o1 = bob.engine.open(*m1);
  v["opened_1_payload"] = o1 ? to_hex(o1->payload) : "error:" + o1.err().what();
  auto m2 = bob.engine.seal(alice.id(), nullptr, as_bytes("hi alice"), test::msg_id(2), env->now_unix_ms() + 3600000);
  v["envelope_bob_to_alice_session"] = to_hex(*m2);
  auto o2 = alice.engine.open(*m2);
  v["opened_2_payload"] = o2 ? to_hex(o2->payload) : "error:" + o2.err().what();
  v["safety_code_alice_bob"] = safety_code(alice.identity.pub(), bob.identity.pub());
  return v;
}

} // namespace

TEST(vectors, fixed_keys_and_rng_give_the_recorded_bytes) {
  auto v = compute();
  EXPECT_EQ(v["hkdf_rfc5869_case1"],
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  if (std::getenv("AQUA_WRITE_VECTORS")) {
    std::ofstream out(vector_file);
    out << "# aqua E2EE test vectors (tests/framework/e2ee/vectors_test.cpp). name value\n";
    for (auto& [k, val] : v) out << k << " " << val << "\n";
    GTEST_SKIP() << "wrote " << vector_file;
  }
  std::ifstream in(vector_file);
  ASSERT_TRUE(in) << vector_file;
  std::map<std::string, std::string> recorded;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.find(' ');
    recorded[line.substr(0, sp)] = line.substr(sp + 1);
  }
  EXPECT_EQ(recorded.size(), v.size());
  for (auto& [k, val] : v) EXPECT_EQ(recorded[k], val) << k;
}
