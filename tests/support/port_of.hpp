#pragma once
// Test helper: the TCP port of a /ip4/A/tcp/P/... multiaddr (as relay servers
// and transports report their listen addresses).

#include <cstdint>
#include <string>

namespace aqua::test {

inline std::uint16_t port_of(const std::string& addr) {
  const auto at = addr.find("/tcp/") + 5;
  return static_cast<std::uint16_t>(std::stoi(addr.substr(at, addr.find('/', at) - at)));
}

} // namespace aqua::test
