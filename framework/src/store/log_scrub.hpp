#pragma once
// Private: checks a LevelDB log file record by record and rewrites it with
// only the records whose checksums hold (store_repair.cpp).
//
// LevelDB's RepairDB reads log files without checking their checksums (it
// wants to salvage what it can), so a flipped byte in a log became an altered
// record in the repaired store. db::repair scrubs every log of its work copy
// before RepairDB runs, so RepairDB only ever reads records whose CRC32C held.
//
// The log format (LevelDB's doc/log_format.md): 32 KiB blocks of physical
// records `crc32c (4, masked) | length (2, LE) | type (1) | payload`, the
// checksum over type and payload; type FULL = 1, or a logical record split
// as FIRST = 2, MIDDLE = 3 ... LAST = 4; fewer than 7 bytes left in a block
// are zero padding. A damaged physical record loses the rest of its block
// (its length cannot be trusted), as LevelDB's own reader does, and with it
// the logical record it belonged to. The rewrite is the same format, as
// LevelDB's log writer lays it out.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "aqua/error.hpp"

namespace aqua::store {

struct log_scrub_outcome {
  std::uint64_t records_kept = 0;
  std::uint64_t damaged = 0;        // places where a record failed its checksum (or its header made no sense)
  std::uint64_t bytes_dropped = 0;  // bytes lost there: the rest of each damaged block, fragments of records cut by it
  std::uint64_t tail_bytes = 0;     // an incomplete last record (a write cut short: never acknowledged, not damage)
};

// CRC32C (Castagnoli), as LevelDB's crc32c::Extend. Exposed for tests.
std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view data);

// The records of a log file's bytes that read whole, and what did not.
struct log_records {
  std::vector<std::string> records;
  log_scrub_outcome outcome;
};
log_records read_log_checked(std::string_view file);
// `records` laid out as LevelDB's log writer does, from offset 0 of a new file.
std::string write_log(const std::vector<std::string>& records);

// Rewrites `file` (atomically: a synced temporary beside it, renamed over it) with its intact records, if any was
// dropped; a log that reads whole is left as it is.
result<log_scrub_outcome> scrub_log(const std::filesystem::path& file);

} // namespace aqua::store
