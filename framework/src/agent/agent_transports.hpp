#pragma once
// Private: the transports of a hosted agent's node (agent_host.cpp), for
// `aqua config check` too.

#include <string>
#include <vector>

#include "aqua/config.hpp"
#include "aqua/identity.hpp"

namespace aqua::agents {

// A transport of plugin `plugin` for an agent's node, listening on `listen`, with the settings of the daemon's
// transport of that plugin in `daemon` (if it has one).
transport_config agent_transport(const node_config& daemon, const std::string& plugin, std::vector<std::string> listen);

// The daemon node of an agent host reaches its agents over loopback (their cards list /memory/<id> first). A
// daemon config with agents but no loopback transport (`aqua init --listen /ip4/...` writes zmq only) gets a
// dial-only one (no listen address, so its card is unchanged): true when it was added.
bool add_daemon_loopback(node_config& daemon);

// The node config of hosted agent `a` (peer ID `id`) of daemon config `d`: the daemon's crypto/mailbox settings and
// plugin path, its data dir under <data_dir>/agents/<name>/, a loopback listener on /memory/<id>, zmq for `listen`.
node_config agent_node_config(const node_config& d, const agent_config& a, const peer_id& id);

} // namespace aqua::agents
