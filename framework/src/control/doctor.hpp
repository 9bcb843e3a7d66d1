#pragma once
// Private: `aqua doctor` (control API "doctor", docs/api/control.md): what
// the node knows about its reachability — listen addresses, relays and
// their reservations, the addresses relays observe for us and a NAT guess
// from them — and, for one peer, the path routing would take and why.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "aqua/node.hpp"

namespace aqua::control {

struct nat_guess {
  std::string verdict;  // public | behind_nat | symmetric_nat | unknown
  std::string why;
};

// From the observed addresses (/ip4/A/tcp/P) relays report and the node's
// own interface addresses (the node's listen IPs plus every local IPv4).
nat_guess guess_nat(const std::vector<std::string>& observed, const std::vector<std::string>& local_ips);
// Every IPv4 address of this host's interfaces (getifaddrs).
std::vector<std::string> local_ipv4_addresses();

result<nlohmann::json> doctor_report(node& n, const std::optional<peer_id>& peer);

} // namespace aqua::control
