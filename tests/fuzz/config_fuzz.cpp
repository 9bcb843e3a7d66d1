// Fuzz target: the YAML config loader. Property: any input yields a config
// or an aqua::error (never an exception or crash); errors name the source.
#include <fstream>
#include <sstream>
#include <string>

#include "aqua/config.hpp"
#include "fuzz_target.hpp"

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  std::vector<std::vector<std::uint8_t>> out;
  std::ifstream in(AQUA_SOURCE_DIR "/configs/node.example.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  auto s = ss.str();
  out.emplace_back(s.begin(), s.end());
  std::string small = "components: {relay: {serve: true}}\ntransports: [{plugin: loopback, listen: [/memory/a]}]\n";
  out.emplace_back(small.begin(), small.end());
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = aqua::parse_config(text, "fuzz.yaml", "/fuzz");
  if (!r) AQUA_FUZZ_CHECK(r.err().message().rfind("fuzz.yaml", 0) == 0);
  return 0;
}
