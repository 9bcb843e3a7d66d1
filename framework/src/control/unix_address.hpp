#pragma once
// Private: the address of a unix stream socket at a path of any length.
// sockaddr_un holds at most 107 bytes of path; a longer one (a deep data dir)
// is reached through its directory, /proc/self/fd/<dir fd>/<name>, which
// resolves to the same file for bind() and connect(). The directory stays
// open for as long as the address lives.

#include <sys/socket.h>
#include <sys/un.h>

#include <filesystem>

#include "aqua/error.hpp"

namespace aqua::control {

class unix_address {
 public:
  static result<unix_address> of(const std::filesystem::path& path);
  unix_address(unix_address&& o) noexcept;
  unix_address& operator=(unix_address&&) = delete;
  unix_address(const unix_address&) = delete;
  ~unix_address();

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&addr_); }
  socklen_t size() const { return sizeof addr_; }

 private:
  unix_address() = default;
  sockaddr_un addr_{};
  int dir_fd_ = -1;
};

} // namespace aqua::control
