// Fuzz target: contact card decoding/verification and the text form.
// Property: a decoded card re-encodes to the identical bytes.
#include <algorithm>

#include "../framework/e2ee/e2ee_fixture.hpp"
#include "fuzz_target.hpp"

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  auto env = std::make_shared<aqua::deterministic_env>(3);
  auto a = aqua::test::party::make(0, env);
  auto text = aqua::e2ee::card_to_text(aqua::e2ee::decode_card(a.card).value());
  return {a.card, std::vector<std::uint8_t>(text.begin(), text.end())};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  aqua::bytes_view in(data, size);
  if (auto c = aqua::e2ee::decode_card(in)) {
    auto again = aqua::e2ee::encode_card(*c);
    AQUA_FUZZ_CHECK(again.size() == size && std::equal(again.begin(), again.end(), data));
  }
  (void) aqua::e2ee::verify_card(in, 1700000000000);
  std::string text(reinterpret_cast<const char*>(data), size);
  if (auto b = aqua::e2ee::card_from_text(text)) (void) aqua::e2ee::decode_card(*b);
  return 0;
}
