#pragma once
// Private: whole-file reads with a size limit, for everything a user may
// point aqua at (configs, cards, files to send). A FIFO, /dev/zero or a
// directory gets a precise error instead of an endless read or an
// exception from the stream.

#include <cstddef>
#include <filesystem>
#include <istream>
#include <string>

#include "aqua/error.hpp"

namespace aqua::detail {

// Reads `in` to its end; more than `max_bytes` is an error with code
// `too_large` that names `what` (e.g. "config 'x.yaml'").
result<std::string> read_bounded(std::istream& in, std::size_t max_bytes, const std::string& what, errc too_large);
// The same for a file: not_found when it does not exist, io_error when it
// cannot be opened or read, invalid_argument for a directory. A FIFO without
// a writer reads as empty (never blocks); a pipe with one (--file <(cmd))
// reads to its end.
result<std::string> read_file_bounded(const std::filesystem::path& file, std::size_t max_bytes, const std::string& what,
                                      errc too_large);

} // namespace aqua::detail
