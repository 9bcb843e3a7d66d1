#pragma once
// Starting a node from the CLI (aqua serve, aqua inbox watch without a
// daemon) so that SIGINT/SIGTERM work while it starts: node::start can wait
// long (a relay_v2 transport waits up to listen_timeout_ms for its relay's
// reservation), and a stop asked for meanwhile must not wait for it.

#include <functional>
#include <memory>

#include "aqua/node.hpp"

namespace aqua::cli {

// node::start(cfg) on its own thread, polling `signalled` every 50 ms. If it
// says yes before the start returns, `interrupted` runs (say so) and the
// process ends at once with exit 0: nothing was served yet, and the store
// is as after any crash (every write is an atomic LevelDB batch).
result<std::unique_ptr<node>> start_node_interruptibly(const node_config& cfg, const std::function<bool()>& signalled,
                                                       const std::function<void()>& interrupted);

} // namespace aqua::cli
