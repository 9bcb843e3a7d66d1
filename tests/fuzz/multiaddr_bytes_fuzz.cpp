// Fuzz target: binary multiaddr decoding and the text form (p2p/multiaddr_bytes).
// Properties: decoded bytes re-encode identically; a printable binary address
// parses back from its text to the same bytes; parsed text is a fixpoint
// after one normalisation.
#include <string>

#include "fuzz_target.hpp"
#include "p2p/multiaddr_bytes.hpp"

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  std::vector<std::vector<std::uint8_t>> out;
  for (const char* h :
       {"047f000001910204d2", "290000000000000000000000000000000191020fa1cd03",
        "361172656c61792e6578616d706c652e636f6d0601bbde03",
        "0401020304060fa1a503260024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
        "a202a503260024080112208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394",
        "3703612e6291020035cd03d103d203221220c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2",
        "2a046574683029fe800000000000000000000000000001060007", "890605616c696365", "bc030010c0439831b48218480050"})
    out.push_back(aqua::from_hex(h).value());
  for (std::string s : {"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5",
                        "/ip6/::ffff:1.2.3.4/udp/1/quic-v1/webtransport", "/dns/a.b/tcp/443/tls/sni/a.b/ws",
                        "/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g", "/ipcidr/24/memory/x"})
    out.emplace_back(s.begin(), s.end());
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aqua::p2p;
  aqua::bytes_view in(data, size);
  if (auto parts = decode_multiaddr(in)) {
    AQUA_FUZZ_CHECK(!parts->empty());
    auto again = encode_multiaddr(*parts);
    AQUA_FUZZ_CHECK(again.size() == size && std::equal(again.begin(), again.end(), data));
    if (auto text = multiaddr_to_text(in)) {
      auto back = multiaddr_from_text(*text);
      AQUA_FUZZ_CHECK(back.has_value());
      AQUA_FUZZ_CHECK(back->size() == size && std::equal(back->begin(), back->end(), data));
    }
    (void) multiaddr_from_bytes(in);
  }
  std::string text(reinterpret_cast<const char*>(data), size);
  if (auto b = multiaddr_from_text(text)) {
    AQUA_FUZZ_CHECK(decode_multiaddr(*b).has_value());
    auto t = multiaddr_to_text(*b);
    AQUA_FUZZ_CHECK(t.has_value());
    auto b2 = multiaddr_from_text(*t);
    AQUA_FUZZ_CHECK(b2.has_value() && *b2 == *b);
  }
  return 0;
}
