#pragma once
// Test helper: breaks TCP sockets of this process with shutdown(SHUT_WR).
// The next send() on such a socket fails at once (EPIPE) while nothing is
// reported on it yet, so the next host call that flushes that connection
// closes it synchronously, inside the call: the re-entrancy (on_closed
// erasing the caller's state) that relay_client and relay_server must survive.

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

namespace aqua::test {

enum class port_side : std::uint8_t { peer, local };

// The connected IPv4 TCP sockets (fds) whose peer (or local) port is `port`.
inline std::vector<int> tcp_sockets(std::uint16_t port, port_side side) {
  std::vector<int> out;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long n = std::strtol(e->d_name, &end, 10);
    const int fd = static_cast<int>(n);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    int type = 0;
    socklen_t type_len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM) continue;
    sockaddr_in peer{}, self{};
    socklen_t peer_len = sizeof peer, self_len = sizeof self;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_len) != 0 || peer.sin_family != AF_INET)
      continue;
    if (ntohs(side == port_side::peer ? peer.sin_port : self.sin_port) == port) out.push_back(fd);
  }
  closedir(dir);
  return out;
}

// Shuts the write side of `fds`; returns how many.
inline int shut_write(const std::vector<int>& fds) {
  int n = 0;
  for (int fd : fds) n += shutdown(fd, SHUT_WR) == 0;
  return n;
}

inline int shut_write_sockets(std::uint16_t port, port_side side) { return shut_write(tcp_sockets(port, side)); }

} // namespace aqua::test
