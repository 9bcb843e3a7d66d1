// Fuzz target: the libp2p identify message (p2p/identify).
// Properties: a decoded message re-encodes to bytes that decode to the same
// message and are a fixpoint of decode+encode; repeated fields stay bounded;
// the public key and addresses it carries can be inspected without crashing.
#include "fuzz_target.hpp"
#include "identity/keypair.hpp"
#include "p2p/identify.hpp"
#include "p2p/multiaddr_bytes.hpp"
#include "p2p/noise_handshake.hpp"

using namespace aqua;
using namespace aqua::p2p;

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  identify_info m;
  m.protocol_version = "ipfs/0.1.0";
  m.agent_version = "aqua/0.1";
  m.public_key = encode_libp2p_public_key(keypair::from_seed(bytes(32, 1)).value().pub());
  m.listen_addrs = {multiaddr_from_text("/ip4/127.0.0.1/tcp/4001").value()};
  m.observed_addr = multiaddr_from_text("/ip4/127.0.0.1/tcp/50000").value();
  m.protocols = {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/aqua/msg/1.0.0"};
  std::vector<std::vector<std::uint8_t>> out = {encode_identify(m), encode_identify(identify_info{})};
  m.signed_peer_record = bytes(40, 7);
  out.push_back(encode_identify(m));
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto m = decode_identify(bytes_view(data, size));
  if (!m) return 0;
  AQUA_FUZZ_CHECK(m->listen_addrs.size() <= identify_max_entries);
  AQUA_FUZZ_CHECK(m->protocols.size() <= identify_max_entries);
  auto enc = encode_identify(*m);
  AQUA_FUZZ_CHECK(enc.size() <= size);
  auto again = decode_identify(enc);
  AQUA_FUZZ_CHECK(again.has_value());
  AQUA_FUZZ_CHECK(*again == *m);
  AQUA_FUZZ_CHECK(encode_identify(*again) == enc);
  (void) identify_peer(*m);
  for (const auto& a : m->listen_addrs) (void) multiaddr_to_text(a);
  if (!m->observed_addr.empty()) (void) multiaddr_to_text(m->observed_addr);
  return 0;
}
