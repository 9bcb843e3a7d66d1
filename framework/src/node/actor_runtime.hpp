#pragma once
// Private: the CAF actor system a node's actors run in. A node started with
// node::start has one of its own; the agent host starts all its agents' nodes
// in one (node_detail::starter), so a hundred agents do not run a hundred
// schedulers, clocks and timer threads. A node in a shared system stops by
// ending its own actors and waiting for them; the system goes with its last
// user.

#include <caf/all.hpp>

#include <cstddef>
#include <memory>

#include "aqua/node.hpp"

namespace aqua::node_detail {

struct actor_runtime {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> system;  // declared after cfg: destroyed (and joined) before it
};

// An actor system with `workers` scheduler threads, tuned as a node needs (node.cpp).
std::shared_ptr<actor_runtime> make_actor_runtime(std::size_t workers);

struct starter {
  // node::start, in `runtime`'s actor system; others may share it.
  static result<std::unique_ptr<node>> start(const node_config& cfg, std::shared_ptr<actor_runtime> runtime);
};

} // namespace aqua::node_detail
