#include "core/bounded_read.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
  // Non-blocking open: a FIFO without a writer would block open(2) for good (it then reads as empty); a pipe with
  // a writer (--file <(command)) reads as usual once the descriptor is blocking again.
  const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return error{e == ENOENT ? errc::not_found : errc::io_error, "cannot open " + what + ": " + std::strerror(e)};
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::string out;
  char buf[65536];
  for (;;) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return error{errc::io_error, "cannot read " + what + ": " + std::strerror(e)};
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      ::close(fd);
      return error{too_large, what + " is larger than " + std::to_string(max_bytes) + " bytes"};
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

} // namespace aqua::detail
