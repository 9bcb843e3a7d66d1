#include "control/unix_address.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace aqua::control {

result<unix_address> unix_address::of(const std::filesystem::path& path) {
  unix_address a;
  a.addr_.sun_family = AF_UNIX;
  auto s = path.string();
  if (s.size() >= sizeof(a.addr_.sun_path)) {
    const auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    a.dir_fd_ = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (a.dir_fd_ < 0)
      return error{errc::io_error, "cannot open " + dir.string() + " (for its socket): " + std::strerror(errno)};
    s = "/proc/self/fd/" + std::to_string(a.dir_fd_) + "/" + path.filename().string();
    if (s.size() >= sizeof(a.addr_.sun_path))
      return error{errc::invalid_argument, "socket name '" + path.filename().string() + "' is too long"};
  }
  std::memcpy(a.addr_.sun_path, s.c_str(), s.size() + 1);
  return a;
}

unix_address::unix_address(unix_address&& o) noexcept : addr_(o.addr_), dir_fd_(o.dir_fd_) { o.dir_fd_ = -1; }

unix_address::~unix_address() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

} // namespace aqua::control
