#pragma once
// Private, sans-I/O: routing's memory of how each peer can be reached, and
// the path choice of docs/routing.md:
//
//   1. direct   — an address without /p2p-circuit (zmq tcp, loopback)
//   2. relayed  — a circuit address /.../p2p/RELAY/p2p-circuit/p2p/PEER, live
//   3. mailbox  — deposit the sealed envelope on a relay named by a circuit
//                 address, for the peer to fetch when it checks in
//
// An address that failed (its connection closed before the peer sent a
// single frame on it, or the dial itself failed) is skipped for a back-off
// that doubles per failure (1 s .. 60 s, and at least twice as long as the
// failed connection lived) and resets when the peer answers on it. The same sealed envelope (same message ID) travels every path, so
// the receiver's dedup keeps delivery exactly-once whichever path wins.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aqua::routing {

enum class path_kind : std::uint8_t { direct, relayed, mailbox };
std::string_view to_string(path_kind k);
// relayed for circuit addresses, direct for everything else.
path_kind kind_of(const std::string& address);
// A /memory/ address (the loopback transport, docs/transports.md): both ends
// live in this process, so its connection cannot go silent — a close is
// always seen at once — and the happy-eyeballs suspect rule never applies.
bool in_process(const std::string& address);

struct address_report {
  std::string address;
  path_kind kind = path_kind::direct;
  std::uint32_t failures = 0;
  std::int64_t retry_at_ms = 0;  // skipped until then (0: usable now)
  std::string last_error;
};

struct path_choice {
  std::vector<std::string> live;     // addresses to dial, in order
  std::vector<std::string> mailbox;  // circuit addresses whose relays may hold mail
  std::string why;                   // one line for `aqua doctor`
};

class path_table {
 public:
  static constexpr std::int64_t initial_backoff_ms = 1000;
  static constexpr std::int64_t max_backoff_ms = 60000;
  static constexpr std::size_t max_peers = 65536;  // oldest state is forgotten beyond this

  // `addresses`: where the peer can be reached (config route first, then its card), in preference order.
  // `can_relay`: false when the node has no transport that dials relayed addresses (relay_v2): they are then
  // neither live paths nor mailboxes, and `why` says so.
  path_choice choose(const std::string& peer, const std::vector<std::string>& addresses, std::int64_t now_ms,
                     bool can_relay = true) const;
  // `min_backoff_ms`: at least this long (a connection that took 10 s to
  // fail is not worth retrying after 1 s: routing passes twice its lifetime).
  void failed(const std::string& peer, const std::string& address, const std::string& why, std::int64_t now_ms,
              std::int64_t min_backoff_ms = 0);
  void worked(const std::string& peer, const std::string& address);
  void used(const std::string& peer, path_kind kind, const std::string& address, std::int64_t now_ms);

  std::vector<address_report> report(const std::string& peer, const std::vector<std::string>& addresses) const;
  // The last path a frame to `peer` took ("" when none yet).
  std::optional<std::pair<path_kind, std::string>> last_used(const std::string& peer) const;

 private:
  struct addr_state {
    std::uint32_t failures = 0;
    std::int64_t retry_at_ms = 0;
    std::string last_error;
  };
  struct peer_state {
    std::map<std::string, addr_state> addrs;
    std::optional<std::pair<path_kind, std::string>> last;
    std::int64_t touched_ms = 0;
  };
  void trim();
  std::map<std::string, peer_state> peers_;
};

} // namespace aqua::routing
