// Fuzz target: peer ID parsing (base58 text and binary multihash), and
// multiaddr parsing. Property: a parsed value prints back to its input.
#include <string>

#include "aqua/identity.hpp"
#include "aqua/multiaddr.hpp"
#include "fuzz_target.hpp"

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  std::vector<std::vector<std::uint8_t>> out;
  for (std::string s : {"12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
                        "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
                        "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5",
                        "/ip6/::1/tcp/1/p2p-circuit/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
                        "/memory/alice", "/dns4/relay.example/tcp/443"})
    out.emplace_back(s.begin(), s.end());
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (auto id = aqua::peer_id::parse(text)) {
    AQUA_FUZZ_CHECK(id->str() == text);
    AQUA_FUZZ_CHECK(aqua::peer_id::from_bytes(id->to_bytes()).has_value());
  }
  if (auto id = aqua::peer_id::from_bytes(aqua::bytes_view(data, size))) AQUA_FUZZ_CHECK(id->to_bytes().size() == size);
  if (auto ma = aqua::multiaddr::parse(text)) AQUA_FUZZ_CHECK(ma->str() == text && !ma->parts().empty());
  return 0;
}
