#pragma once
// Text multiaddrs as aqua uses them: /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...,
// /memory/<name> for the in-process loopback transport, relay circuits
// (/.../p2p/RELAY/p2p-circuit/p2p/TARGET).

#include <string>
#include <string_view>
#include <vector>

#include "aqua/error.hpp"

namespace aqua {

struct multiaddr_part {
  std::string protocol;  // "ip4", "tcp", "p2p", "p2p-circuit", "memory", ...
  std::string value;     // empty for valueless protocols such as p2p-circuit
};

class multiaddr {
 public:
  // Validates every component (IP syntax, port range, peer ID, ...);
  // errors are errc::bad_address naming the offending component.
  static result<multiaddr> parse(std::string_view text);

  const std::vector<multiaddr_part>& parts() const noexcept { return parts_; }
  const std::string& str() const noexcept { return text_; }
  // First value of `protocol`, or empty.
  std::string value_of(std::string_view protocol) const;
  bool has(std::string_view protocol) const;

 private:
  std::vector<multiaddr_part> parts_;
  std::string text_;
};

} // namespace aqua
