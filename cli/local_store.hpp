#pragma once
// Reading a node's store from the CLI when no daemon runs (the daemon holds
// the store's lock; commands go through it when it answers).

#include <cstddef>
#include <memory>

#include "commands.hpp"
#include "control/control_json.hpp"
#include "store/store.hpp"

namespace aqua::cli {

// The data dir's store, read-write. A node that never ran has no store yet
// (`aqua serve` creates it): nullptr, which reads as "no messages".
result<std::unique_ptr<store::db>> open_store(const global_options& g);

// Peer ID → alias of every stored contact that has one.
control::alias_map stored_aliases(store::db& db);

// Never silently: a record this aqua cannot read is not a message that never
// was. Warns on stderr when `n` records of `box` ("inbox", "outbox") were skipped.
void warn_unreadable(std::size_t n, const char* box);

} // namespace aqua::cli
