#include "core/bounded_read.hpp"

#include <fstream>

namespace aqua::detail {

result<std::string> read_bounded(std::istream& in, std::size_t max_bytes, const std::string& what, errc too_large) {
  std::string out;
  char buf[65536];
  while (in) {
    in.read(buf, sizeof buf);
    auto n = static_cast<std::size_t>(in.gcount());
    if (out.size() + n > max_bytes)
      return error{too_large, what + " is larger than " + std::to_string(max_bytes) + " bytes"};
    out.append(buf, n);
  }
  if (in.bad()) return error{errc::io_error, "cannot read " + what};
  return out;
}

result<std::string> read_file_bounded(const std::filesystem::path& file, std::size_t max_bytes, const std::string& what,
                                      errc too_large) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) return error{errc::invalid_argument, what + " is a directory"};
  std::ifstream in;
  in.exceptions(std::ios::goodbit);  // errors as values, never stream exceptions
  in.open(file, std::ios::binary);
  if (!in) return error{errc::not_found, "cannot open " + what};
  return read_bounded(in, max_bytes, what, too_large);
}

} // namespace aqua::detail
