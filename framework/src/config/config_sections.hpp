#pragma once
// Private: the sections of a node config that name what a node binds and loads (config_sections.cpp), for the
// loader (config_loader.cpp). Each fails through yaml_walker (config_failure) with the file:line:col and key path.

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <string>

#include "aqua/config.hpp"
#include "config/yaml_walker.hpp"

namespace aqua::config_detail {

// `p` against `base` (a leading ~ is $HOME), normalised.
std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p);
// The string at `n`, which must parse as a multiaddr (config_bad_address).
std::string checked_address(const yaml_walker& w, const YAML::Node& n, const std::string& path);

// Listen addresses by what they bind, with where each was first written (check_listened_once).
using listened_map = std::map<std::string, std::string>;
// config_bad_address at `n` when `address` binds what an earlier listen address binds.
void check_listened_once(const yaml_walker& w, const YAML::Node& n, const std::string& path, const std::string& address,
                         listened_map& listened);

// transports[]: into cfg.transports; returns what they bind.
listened_map parse_transports(const yaml_walker& w, const YAML::Node& list, node_config& cfg);
// agents[]: into cfg.agents (after the node's name is known: no agent may take it).
void parse_agents(const yaml_walker& w, const YAML::Node& list, node_config& cfg, bool name_given,
                  listened_map& listened);
// agent_directory: into cfg.agent_directory.
void parse_agent_directory(const yaml_walker& w, const YAML::Node& n, const std::filesystem::path& base,
                           node_config& cfg);

} // namespace aqua::config_detail
