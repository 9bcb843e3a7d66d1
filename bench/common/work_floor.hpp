#pragma once
// The work every aqua message needs whatever the plumbing, measured alone
// and in-process: sealing and opening through the session layer, and
// synced store writes. bench/crypto and bench/durable report these figures
// against their own baselines; bench/transport uses them to print the
// ceiling its end-to-end figures cannot exceed on this machine.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "aqua/bytes.hpp"

namespace aqua::store {
class db;
} // namespace aqua::store

namespace bench {

// Messages per second sealed by one session and opened by its peer, one
// thread, `msg` as payload; a reply every `reply_every` messages (0: none)
// makes both sides take DH ratchet steps. `steps_when_idle`: the sending
// half of each step is completed after the open, outside the timed part —
// in a node the ack sealed once the message is durable takes it while the
// application gets the message — so the figure is the crypto on a round
// trip's critical path, not all the work.
double session_seal_open_rate(std::size_t n, const aqua::bytes& msg, std::size_t reply_every,
                              bool steps_when_idle = false);

// `n` synced writes of one `size`-byte record each, one after the other
// (write_unbatched): each one's latency in microseconds.
std::vector<double> synced_writes_us(aqua::store::db& db, std::size_t n, std::size_t size);

struct group_commit_figures {
  double per_second = 0;
  std::uint64_t batches = 0, writes = 0;
  std::size_t failed = 0;
};
// `n` records of `size` bytes submitted to the group committer with up to
// `in_flight` outstanding, each counted once its batch is synced.
group_commit_figures group_commit(aqua::store::db& db, std::size_t n, std::size_t size, std::size_t in_flight);

} // namespace bench
