// The node config's sections that name what a node binds and loads: listen addresses (each bound once), the
// transports[] and agents[] lists, the agent directory (docs/agents.md). Split from config_loader.cpp.

#include "config/config_sections.hpp"

#include <cstdlib>
#include <set>

#include "aqua/multiaddr.hpp"

namespace aqua::config_detail {

namespace fs = std::filesystem;

namespace {

// `plugin` of a transports[] or agents[] entry: a registry name, [a-z0-9_]+.
std::string plugin_name(const yaml_walker& w, const YAML::Node& entry, const std::string& p) {
  auto plugin = w.child(entry, p, "plugin", true);
  auto name = w.as_string(plugin, p + ".plugin");
  if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
    w.fail(errc::config_bad_value, plugin, p + ".plugin", "plugin names are [a-z0-9_]+, got '" + name + "'");
  return name;
}

// Starting with a letter or digit: "-" is the CLI's stdin and "--wait" an option, so neither could be named there.
constexpr const char* agent_name_rule = "agent names are 1-64 of [a-z0-9_-], starting with a letter or digit";
bool valid_agent_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 && s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos &&
         s.find_first_of("abcdefghijklmnopqrstuvwxyz0123456789") == 0;
}

// The `settings` map of a transports[] or agents[] entry at `p`, and where the entry, its plugin and each setting
// are written (a plugin's factory may refuse one: located_error).
std::map<std::string, std::string> entry_settings(const yaml_walker& w, const YAML::Node& entry, const std::string& p,
                                                  node_config& cfg) {
  std::map<std::string, std::string> settings;
  if (auto c = w.child(entry, p, "settings", false); c.IsDefined() && !c.IsNull()) {
    settings = w.as_scalar_map(c, p + ".settings");
    for (auto it = c.begin(); it != c.end(); ++it)
      cfg.located[p + ".settings." + it->first.Scalar()] = w.where(it->second);
  }
  cfg.located[p] = w.where(entry);
  cfg.located[p + ".plugin"] = w.where(entry["plugin"]);
  return settings;
}

} // namespace

fs::path resolve(const fs::path& base, const std::string& p) {
  fs::path path(p);
  if (!p.empty() && p[0] == '~') {
    const char* home = std::getenv("HOME");
    path = fs::path(home ? home : "") / p.substr(p.size() > 1 && p[1] == '/' ? 2 : 1);
  }
  return path.is_absolute() ? path.lexically_normal() : (base / path).lexically_normal();
}

std::string checked_address(const yaml_walker& w, const YAML::Node& n, const std::string& path) {
  auto text = w.as_string(n, path);
  auto ma = multiaddr::parse(text);
  if (!ma) w.fail(errc::config_bad_address, n, path, ma.err().message());
  return text;
}

// Listen addresses the node binds, by where they were first listed: the same one twice would fail the start with
// address_in_use. Port 0 (any free port) and relayed (/p2p-circuit) addresses bind nothing of their own. Compared
// as what they bind: a port's leading zeros and a trailing /p2p/<id> do not make another address, and 0.0.0.0 (::)
// takes its port on every address of its family. Keys: "<ip4|ip6|dns...>/<host>/tcp/<port>", and for the family
// "*<ip4|ip6>/tcp/<port>" -> (path, host).
void check_listened_once(const yaml_walker& w, const YAML::Node& n, const std::string& path, const std::string& address,
                         listened_map& listened) {
  auto ma = multiaddr::parse(address);
  if (!ma || ma->has("p2p-circuit")) return;
  std::string key, family, host, port;
  for (auto& part : ma->parts()) {
    if (part.protocol == "p2p") continue;
    std::string v = part.value;
    if ((part.protocol == "tcp" || part.protocol == "udp") && !v.empty() && v.size() < 10 &&
        v.find_first_not_of("0123456789") == std::string::npos)
      v = std::to_string(std::stoul(v));
    if (part.protocol == "ip4" || part.protocol == "ip6") family = part.protocol, host = v;
    if (part.protocol == "tcp") port = v;
    key += "/" + part.protocol + "/" + v;
  }
  if (port == "0") return;
  auto twice = [&](const std::string& first_at, const std::string& why) {
    w.fail(errc::config_bad_address, n, path, "'" + address + "' " + why + " (also at " + first_at +
                                                "): the second listen would fail with address_in_use");
  };
  if (auto [it, fresh] = listened.emplace(key, path); !fresh) twice(it->second, "is listed twice");
  if (family.empty() || port.empty()) return;
  const auto wildcard = family == "ip4" ? "0.0.0.0" : "::";
  auto [it, fresh] = listened.emplace("*" + family + "/tcp/" + port, path + "\n" + host);
  if (fresh) return;
  const auto cut = it->second.find('\n');
  const auto first_host = it->second.substr(cut + 1);
  if (first_host != host && (first_host == wildcard || host == wildcard))
    twice(it->second.substr(0, cut), "binds port " + port + " where " + wildcard + " takes it on every address");
}

namespace {

// The `listen` list of the transports[]/agents[] entry at `p`: each address checked, bound only once in the file
// (check_listened_once) and located, since the plugin's factory may refuse it (located_error). An agent's list may
// not name /memory/ addresses: agents always listen on their own.
std::vector<std::string> listen_list(const yaml_walker& w, const YAML::Node& entry, const std::string& p,
                                     node_config& cfg, listened_map& listened, bool agent) {
  std::vector<std::string> out;
  auto c = w.child(entry, p, "listen", false);
  if (!c.IsDefined()) return out;
  w.expect_list(c, p + ".listen");
  for (std::size_t j = 0; j < c.size(); ++j) {
    auto at = yaml_walker::index(p + ".listen", j);
    auto addr = checked_address(w, c[j], at);
    if (agent && addr.rfind("/memory/", 0) == 0)
      w.fail(errc::config_bad_value, c[j], at,
             "agents always listen on /memory/<peer ID>; list only addresses for other processes here");
    check_listened_once(w, c[j], at, addr, listened);
    out.push_back(std::move(addr));
    cfg.located[at] = w.where(c[j]);
  }
  return out;
}

} // namespace

// Returns the listen addresses that bind something, by where they are written (check_listened_once).
listened_map parse_transports(const yaml_walker& w, const YAML::Node& list, node_config& cfg) {
  const std::string path = "transports";
  w.expect_list(list, path);
  std::set<std::string> names;
  listened_map listened;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto p = yaml_walker::index(path, i);
    const YAML::Node& t = list[i];
    w.check_keys(t, p, {"plugin", "name", "listen", "settings"});
    transport_config tc;
    tc.plugin = plugin_name(w, t, p);
    tc.name = tc.plugin;
    if (auto c = w.child(t, p, "name", false); c.IsDefined()) tc.name = w.as_string(c, p + ".name");
    if (!names.insert(tc.name).second)
      w.fail(errc::config_bad_value, t, p + ".name", "transport name '" + tc.name + "' is used twice");
    tc.listen = listen_list(w, t, p, cfg, listened, false);
    tc.settings = entry_settings(w, t, p, cfg);
    cfg.transports.push_back(std::move(tc));
  }
  return listened;
}

void parse_agents(const yaml_walker& w, const YAML::Node& list, node_config& cfg, bool name_given,
                  listened_map& listened) {
  const std::string path = "agents";
  if (list.IsNull()) return;
  w.expect_list(list, path);
  std::set<std::string> names;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto p = yaml_walker::index(path, i);
    const YAML::Node& a = list[i];
    w.check_keys(a, p, {"plugin", "name", "listen", "settings"});
    agent_config ac;
    ac.plugin = plugin_name(w, a, p);
    ac.name = ac.plugin;
    if (auto c = w.child(a, p, "name", false); c.IsDefined()) {
      ac.name = w.as_string(c, p + ".name");
      if (!valid_agent_name(ac.name))
        w.fail(errc::config_bad_value, c, p + ".name", std::string(agent_name_rule) + ", got '" + ac.name + "'");
    }
    if (!names.insert(ac.name).second)
      w.fail(errc::config_bad_value, a, p + ".name", "agent name '" + ac.name + "' is used twice");
    // Names resolve in one table (agents, the daemon's node.name, directory names): the daemon's card would
    // take the agent's place and the agent could not be reached.
    if (ac.name == cfg.name) {
      auto c = w.child(a, p, "name", false);
      w.fail(errc::config_bad_value, c.IsDefined() ? c : a, p + ".name",
             "agent name '" + ac.name + "' is the daemon's name (" +
               (name_given ? std::string("its node.name") : "no node.name is set: the data dir's name, '" + cfg.name + "'") +
               "); give the agent or the node another name");
    }
    ac.listen = listen_list(w, a, p, cfg, listened, true);  // agents bind in the daemon's process
    ac.settings = entry_settings(w, a, p, cfg);
    cfg.agents.push_back(std::move(ac));
  }
}

void parse_agent_directory(const yaml_walker& w, const YAML::Node& n, const fs::path& base, node_config& cfg) {
  const std::string path = "agent_directory";
  w.check_keys(n, path, {"path", "require", "wait_s"});
  auto p = w.child(n, path, "path", true);
  cfg.agent_directory.path = resolve(base, w.as_path(p, path + ".path"));
  if (auto c = w.child(n, path, "require", false); c.IsDefined()) {
    cfg.agent_directory.require = w.as_string_list(c, path + ".require");
    for (std::size_t i = 0; i < cfg.agent_directory.require.size(); ++i)
      if (!valid_agent_name(cfg.agent_directory.require[i]))
        w.fail(errc::config_bad_value, c[i], yaml_walker::index(path + ".require", i),
               std::string(agent_name_rule) + ", got '" + cfg.agent_directory.require[i] + "'");
  }
  if (auto c = w.child(n, path, "wait_s", false); c.IsDefined())
    cfg.agent_directory.wait_s = w.as_uint(c, path + ".wait_s", 0, 3600);
}

} // namespace aqua::config_detail
