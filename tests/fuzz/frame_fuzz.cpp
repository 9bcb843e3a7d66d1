// Fuzz target: the signed frame codec. Property: whatever decodes
// re-encodes to the identical bytes (the format has one encoding).
#include "fuzz_target.hpp"
#include "identity/keypair.hpp"
#include "wire/frame.hpp"

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  auto a = aqua::keypair::from_seed(aqua::bytes(32, 0)).value();
  auto b = aqua::keypair::from_seed(aqua::bytes(32, 1)).value();
  std::vector<std::vector<std::uint8_t>> out;
  for (const std::string& body : {std::string(), std::string("hello"), std::string(300, 'x')}) {
    aqua::wire::frame f;
    f.sender = a.pub();
    f.recipient = b.id();
    f.payload.assign(body.begin(), body.end());
    f.signature = a.sign(aqua::wire::signing_input(f));
    out.push_back(aqua::wire::encode(f));
  }
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  aqua::bytes_view in(data, size);
  auto f = aqua::wire::decode(in, 1 << 16);
  if (f) {
    auto again = aqua::wire::encode(*f);
    AQUA_FUZZ_CHECK(again.size() == size && std::equal(again.begin(), again.end(), data));
  }
  static const auto self = aqua::keypair::from_seed(aqua::bytes(32, 1)).value().id();
  (void) aqua::wire::open(in, 1 << 16, self);
  return 0;
}
