// The node configs of an agent host (agent_transports.hpp): each agent's node, and the daemon's loopback.

#include "agent/agent_transports.hpp"

#include <algorithm>
#include <set>

#include "identity/key_store.hpp"

namespace aqua::agents {

transport_config agent_transport(const node_config& daemon, const std::string& plugin, std::vector<std::string> listen) {
  transport_config t{plugin, plugin, std::move(listen), {}};
  for (auto& d : daemon.transports)
    if (d.plugin == plugin) t.settings = d.settings;
  return t;
}

bool add_daemon_loopback(node_config& daemon) {
  if (daemon.agents.empty()) return false;
  std::set<std::string> names;
  for (auto& t : daemon.transports) {
    if (t.plugin == "loopback") return false;
    names.insert(t.name);
  }
  std::string name = "loopback";
  for (int i = 2; names.count(name); ++i) name = "loopback-" + std::to_string(i);
  // Frames as large as the node's messages may make them (a raised crypto.max_frame_bytes): loopback's default
  // (2 MiB) with room for the envelope, and queues that hold two of them. The agents' loopbacks copy these settings.
  const std::uint64_t frame = std::max<std::uint64_t>(2u << 20, std::uint64_t{daemon.crypto.max_frame_bytes} + (64u << 10));
  transport_config t{name, "loopback", {}, {}};
  if (frame > (2u << 20)) {
    t.settings["max_frame_bytes"] = std::to_string(frame);
    t.settings["queue_bytes"] = std::to_string(std::max<std::uint64_t>(4u << 20, 2 * frame));
  }
  daemon.transports.push_back(std::move(t));
  daemon.routing.transports.push_back(name);
  return true;
}

node_config agent_node_config(const node_config& d, const agent_config& a, const peer_id& id) {
  node_config c;
  c.source = d.source;
  c.name = d.name + "." + a.name;
  c.data_dir = d.data_dir / "agents" / a.name;
  c.log_level = d.log_level;
  c.plugin_path = d.plugin_path;
  c.identity.key_file = c.data_dir / key_file_name;
  c.crypto = d.crypto;
  c.mailbox = d.mailbox;
  c.transports.push_back(agent_transport(d, "loopback", {"/memory/" + id.str()}));
  c.routing.transports.push_back("loopback");
  // zmq dials too, so it is there even without `listen` (to reach other daemons).
  c.transports.push_back(agent_transport(d, "zmq", a.listen));
  c.routing.transports.push_back("zmq");
  return c;
}

} // namespace aqua::agents
