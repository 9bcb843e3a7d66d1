// Fuzz target: the LevelDB log reader of `aqua store repair` (store/log_scrub.hpp), which reads a damaged store's
// log files. Any bytes must read without a crash or an out-of-bounds read, and what reads is a fixpoint: the records
// kept, written as a log and read again, come back the same, with no damage and no tail.
#include <string>

#include "fuzz_target.hpp"
#include "store/log_scrub.hpp"

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  std::vector<std::vector<std::uint8_t>> out;
  for (const auto& records : std::vector<std::vector<std::string>>{
           {"a"}, {"", "bb", std::string(300, 'c')}, {std::string(32768 - 7 - 3, 'd'), "e"}, {std::string(40000, 'f')}}) {
    const auto text = aqua::store::write_log(records);
    out.emplace_back(text.begin(), text.end());
  }
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto got = aqua::store::read_log_checked(in);
  AQUA_FUZZ_CHECK(got.records.size() == got.outcome.records_kept);
  AQUA_FUZZ_CHECK(got.outcome.bytes_dropped + got.outcome.tail_bytes <= size);
  const auto again = aqua::store::read_log_checked(aqua::store::write_log(got.records));
  AQUA_FUZZ_CHECK(again.records == got.records);
  AQUA_FUZZ_CHECK(again.outcome.damaged == 0 && again.outcome.tail_bytes == 0);
  return 0;
}
