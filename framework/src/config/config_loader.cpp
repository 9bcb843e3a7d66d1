#include <sys/stat.h>
#include <unistd.h>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "aqua/config.hpp"
#include "aqua/multiaddr.hpp"
#include "config/config_sections.hpp"
#include "config/yaml_walker.hpp"
#include "core/bounded_read.hpp"
#include "core/utf8.hpp"

namespace aqua {
namespace {

using config_detail::check_listened_once;
using config_detail::checked_address;
using config_detail::config_failure;
using config_detail::listened_map;
using config_detail::parse_agent_directory;
using config_detail::parse_agents;
using config_detail::parse_transports;
using config_detail::resolve;
using config_detail::yaml_walker;
namespace fs = std::filesystem;

constexpr std::size_t max_config_bytes = 1u << 20;

void parse_node_section(const yaml_walker& w, const YAML::Node& n, const fs::path& base, node_config& cfg) {
  const std::string path = "node";
  w.check_keys(n, path, {"name", "data_dir", "log_level", "worker_threads", "plugin_path"});
  if (auto c = w.child(n, path, "name", false); c.IsDefined()) {
    cfg.name = w.as_string(c, path + ".name");
    if (auto why = node_name_problem(cfg.name); !why.empty()) w.fail(errc::config_bad_value, c, path + ".name", why);
  }
  if (auto c = w.child(n, path, "data_dir", false); c.IsDefined()) {
    cfg.data_dir = resolve(base, w.as_path(c, path + ".data_dir"));
    // It may not exist yet (aqua init makes it); a file there is a mistake in this file, said where it is.
    std::error_code ec;
    if (fs::exists(cfg.data_dir, ec) && !fs::is_directory(cfg.data_dir, ec))
      w.fail(errc::config_bad_value, c, path + ".data_dir", "'" + cfg.data_dir.string() + "' is not a directory");
  }
  if (auto c = w.child(n, path, "log_level", false); c.IsDefined()) {
    cfg.log_level = w.as_string(c, path + ".log_level");
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
    if (!levels.count(cfg.log_level))
      w.fail(errc::config_bad_value, c, path + ".log_level",
             "'" + cfg.log_level + "' is not one of trace, debug, info, warn, error, off");
  }
  if (auto c = w.child(n, path, "worker_threads", false); c.IsDefined())
    cfg.worker_threads = w.as_uint(c, path + ".worker_threads", 0, 64);
  if (auto c = w.child(n, path, "plugin_path", false); c.IsDefined()) {
    (void) w.as_string_list(c, path + ".plugin_path");  // a list of strings
    for (std::size_t i = 0; i < c.size(); ++i)
      cfg.plugin_path.push_back(resolve(base, w.as_path(c[i], yaml_walker::index(path + ".plugin_path", i))));
  }
}

void parse_routes(const yaml_walker& w, const YAML::Node& list, const std::string& path, routing_config& rc) {
  w.expect_list(list, path);
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto p = yaml_walker::index(path, i);
    const YAML::Node& r = list[i];
    w.check_keys(r, p, {"peer", "address"});
    auto peer_node = w.child(r, p, "peer", true);
    auto id = peer_id::parse(w.as_string(peer_node, p + ".peer"));
    if (!id)
      w.fail(errc::config_bad_value, peer_node, p + ".peer",
             "'" + peer_node.Scalar() + "' is not a peer ID (12D3KooW..., as 'aqua id' prints): " + id.err().what());
    rc.routes.push_back({*id, checked_address(w, w.child(r, p, "address", true), p + ".address")});
  }
}

// /ip4/A/tcp/P, the only form the relay server binds and announces.
std::string checked_ip4_tcp(const yaml_walker& w, const YAML::Node& n, const std::string& path) {
  auto text = w.as_string(n, path);
  auto ma = multiaddr::parse(text);
  const std::vector<multiaddr_part> none;
  const auto& parts = ma ? ma->parts() : none;
  if (!ma)  // the parser's reason (a port above 65535, a bad IPv4 address) says more than the expected form
    w.fail(errc::config_bad_address, n, path, "expected /ip4/A/tcp/P, got '" + text + "': " + ma.err().message());
  if (parts.size() != 2 || parts[0].protocol != "ip4" || parts[1].protocol != "tcp")
    w.fail(errc::config_bad_address, n, path, "expected /ip4/A/tcp/P, got '" + text + "'");
  return text;
}

void parse_relay(const yaml_walker& w, const YAML::Node& c, const std::string& rp, relay_config& r,
                 listened_map& listened) {
  auto u32 = [&](const char* key, std::uint32_t& out, std::uint32_t min, std::uint32_t max) {
    if (auto k = w.child(c, rp, key, false); k.IsDefined()) out = w.as_uint(k, rp + "." + key, min, max);
  };
  auto u64 = [&](const char* key, std::uint64_t& out, std::uint64_t min, std::uint64_t max) {
    if (auto k = w.child(c, rp, key, false); k.IsDefined()) out = w.as_uint64(k, rp + "." + key, min, max);
  };
  auto addrs = [&](const char* key, std::vector<std::string>& out) {
    auto k = w.child(c, rp, key, false);
    if (!k.IsDefined()) return;
    const std::string p = rp + "." + key;
    w.expect_list(k, p);
    out.clear();
    for (std::size_t i = 0; i < k.size(); ++i) {
      out.push_back(checked_ip4_tcp(w, k[i], yaml_walker::index(p, i)));
      if (&out == &r.listen) check_listened_once(w, k[i], yaml_walker::index(p, i), out.back(), listened);
    }
  };
  auto serve = w.child(c, rp, "serve", false);
  if (serve.IsDefined()) r.serve = w.as_bool(serve, rp + ".serve");
  u32("max_forward_frames", r.max_forward_frames, 1, 1u << 20);
  addrs("listen", r.listen);
  addrs("announce", r.announce);
  u32("max_connections", r.max_connections, 1, 65536);
  u32("max_connections_per_ip", r.max_connections_per_ip, 1, 65536);
  u32("new_connections_per_ip_per_s", r.new_connections_per_ip_per_s, 0, 1000000);
  u32("max_reservations", r.max_reservations, 1, 1u << 20);
  u32("max_reservations_per_ip", r.max_reservations_per_ip, 1, 1u << 20);
  u32("max_circuits_per_peer", r.max_circuits_per_peer, 1, 1u << 16);
  u32("reservation_ttl_s", r.reservation_ttl_s, 60, 7 * 86400);
  u32("circuit_duration_s", r.circuit_duration_s, 0, 7 * 86400);
  u64("circuit_data_bytes", r.circuit_data_bytes, 0, std::uint64_t{1} << 40);
  u32("max_connects_per_minute", r.max_connects_per_minute, 0, 1u << 20);
  u32("ping_interval_s", r.ping_interval_s, 0, 3600);
  u32("ping_timeout_s", r.ping_timeout_s, 0, 3600);
  if (r.ping_timeout_s != 0 && (r.ping_interval_s == 0 || r.ping_timeout_s <= r.ping_interval_s)) {
    auto k = w.child(c, rp, "ping_timeout_s", false);
    w.fail(errc::config_bad_value, k.IsDefined() ? k : c, rp + ".ping_timeout_s",
           std::to_string(r.ping_timeout_s) + " needs pings and must be more than ping_interval_s (" +
             std::to_string(r.ping_interval_s) + "): a quiet but live peer sends only its answers to the relay's "
             "pings (0: never close a silent connection)");
  }
  if (auto k = w.child(c, rp, "mailbox", false); k.IsDefined()) r.mailbox = w.as_bool(k, rp + ".mailbox");
  u32("mailbox_max_messages_per_peer", r.mailbox_max_messages_per_peer, 1, 100000000);
  u64("mailbox_max_bytes_per_peer", r.mailbox_max_bytes_per_peer, 1024, std::uint64_t{1} << 40);
  u64("mailbox_max_bytes_total", r.mailbox_max_bytes_total, 1024, std::uint64_t{1} << 44);
  u32("mailbox_max_ttl_s", r.mailbox_max_ttl_s, 60, 365u * 86400);
  // At least one whole message (mailbox::max_message_size, 4 MiB + 64 KiB), or the largest deposits could
  // never arrive.
  constexpr std::uint64_t one_message = (4u << 20) + (64u << 10);
  u64("mailbox_max_incomplete_bytes_per_peer", r.mailbox_max_incomplete_bytes_per_peer, one_message,
      std::uint64_t{1} << 40);
  u64("mailbox_max_incomplete_bytes_total", r.mailbox_max_incomplete_bytes_total, one_message,
      std::uint64_t{1} << 40);
  u32("mailbox_incomplete_timeout_s", r.mailbox_incomplete_timeout_s, 1, 3600);
  u64("mailbox_min_free_bytes", r.mailbox_min_free_bytes, 0, std::uint64_t{1} << 44);
  if (r.serve && r.listen.empty())
    w.fail(errc::config_missing_field, serve, rp + ".listen",
           "relay.serve: true needs at least one listen address, e.g. listen: [/ip4/0.0.0.0/tcp/4001]");
  if (r.mailbox_max_incomplete_bytes_per_peer > r.mailbox_max_incomplete_bytes_total) {
    auto k = w.child(c, rp, "mailbox_max_incomplete_bytes_per_peer", false);
    w.fail(errc::config_bad_value, k.IsDefined() ? k : c, rp + ".mailbox_max_incomplete_bytes_per_peer",
           "exceeds mailbox_max_incomplete_bytes_total (" + std::to_string(r.mailbox_max_incomplete_bytes_total) + ")");
  }
  if (r.mailbox_max_bytes_per_peer > r.mailbox_max_bytes_total) {
    auto k = w.child(c, rp, "mailbox_max_bytes_per_peer", false);
    w.fail(errc::config_bad_value, k.IsDefined() ? k : c, rp + ".mailbox_max_bytes_per_peer",
           "exceeds mailbox_max_bytes_total (" + std::to_string(r.mailbox_max_bytes_total) + ")");
  }
}

// `listened`: the transports' listen addresses (parse_transports), which relay.listen must not repeat.
void parse_components(const yaml_walker& w, const YAML::Node& n, const fs::path& base, node_config& cfg,
                      listened_map& listened) {
  const std::string path = "components";
  w.check_keys(n, path, {"identity", "crypto", "routing", "relay", "mailbox"});
  auto section = [&](const char* key, std::initializer_list<std::string_view> allowed) {
    YAML::Node c = w.child(n, path, key, false);
    if (c.IsDefined() && !c.IsNull()) w.check_keys(c, yaml_walker::join(path, key), allowed);
    return c.IsDefined() && !c.IsNull() ? c : YAML::Node();
  };
  if (auto c = section("identity", {"key_file"}); c.IsMap())
    if (auto k = w.child(c, path + ".identity", "key_file", false); k.IsDefined())
      cfg.identity.key_file = resolve(cfg.data_dir, w.as_path(k, path + ".identity.key_file"));
  if (auto c = section("crypto", {"max_frame_bytes", "unknown_senders", "default_ttl_s", "card_validity_days"});
      c.IsMap()) {
    const std::string cp = path + ".crypto";
    if (auto k = w.child(c, cp, "max_frame_bytes", false); k.IsDefined())
      cfg.crypto.max_frame_bytes = w.as_uint(k, cp + ".max_frame_bytes", 1024, 64u << 20);
    if (auto k = w.child(c, cp, "unknown_senders", false); k.IsDefined()) {
      cfg.crypto.unknown_senders = w.as_string(k, cp + ".unknown_senders");
      if (cfg.crypto.unknown_senders != "reject" && cfg.crypto.unknown_senders != "quarantine")
        w.fail(errc::config_bad_value, k, cp + ".unknown_senders",
               "'" + cfg.crypto.unknown_senders + "' is not one of reject, quarantine");
    }
    if (auto k = w.child(c, cp, "default_ttl_s", false); k.IsDefined())
      cfg.crypto.default_ttl_s = w.as_uint(k, cp + ".default_ttl_s", 1, 365u * 86400);
    if (auto k = w.child(c, cp, "card_validity_days", false); k.IsDefined())
      cfg.crypto.card_validity_days = w.as_uint(k, cp + ".card_validity_days", 1, 3650);
  }
  if (auto c = section("routing", {"transports", "routes"}); c.IsMap()) {
    const std::string rp = path + ".routing";
    if (auto k = w.child(c, rp, "transports", false); k.IsDefined()) {
      cfg.routing.transports = w.as_string_list(k, rp + ".transports");
      std::set<std::string> names;
      for (auto& t : cfg.transports) names.insert(t.name);
      for (std::size_t i = 0; i < cfg.routing.transports.size(); ++i)
        if (!names.count(cfg.routing.transports[i]))
          w.fail(errc::config_bad_value, k[i], yaml_walker::index(rp + ".transports", i),
                 "no transport named '" + cfg.routing.transports[i] + "' in 'transports'");
    }
    if (auto k = w.child(c, rp, "routes", false); k.IsDefined()) parse_routes(w, k, rp + ".routes", cfg.routing);
  }
  if (auto c = section("relay", {"serve", "max_forward_frames", "listen", "announce", "max_connections",
                                 "max_connections_per_ip", "new_connections_per_ip_per_s", "max_reservations",
                                 "max_reservations_per_ip",
                                 "max_circuits_per_peer", "reservation_ttl_s", "circuit_duration_s", "circuit_data_bytes",
                                 "max_connects_per_minute", "ping_interval_s", "ping_timeout_s", "mailbox",
                                 "mailbox_max_messages_per_peer",
                                 "mailbox_max_bytes_per_peer", "mailbox_max_bytes_total", "mailbox_max_ttl_s",
                                 "mailbox_max_incomplete_bytes_per_peer", "mailbox_max_incomplete_bytes_total",
                                 "mailbox_incomplete_timeout_s", "mailbox_min_free_bytes"});
      c.IsMap())
    parse_relay(w, c, path + ".relay", cfg.relay, listened);
  if (auto c = section("mailbox", {"send_window", "dedup_max_ids", "dedup_max_age_s", "agent_keep_handled"}); c.IsMap()) {
    const std::string mp = path + ".mailbox";
    if (auto k = w.child(c, mp, "send_window", false); k.IsDefined())
      cfg.mailbox.send_window = w.as_uint(k, mp + ".send_window", 1, 1000);
    if (auto k = w.child(c, mp, "dedup_max_ids", false); k.IsDefined())
      cfg.mailbox.dedup_max_ids = w.as_uint(k, mp + ".dedup_max_ids", 1000, 100000000);
    if (auto k = w.child(c, mp, "dedup_max_age_s", false); k.IsDefined())
      cfg.mailbox.dedup_max_age_s = w.as_uint(k, mp + ".dedup_max_age_s", 60, 365u * 86400);
    if (auto k = w.child(c, mp, "agent_keep_handled", false); k.IsDefined())
      cfg.mailbox.agent_keep_handled = w.as_uint(k, mp + ".agent_keep_handled", 0, 1000000);
  }
  (void) base;
}

} // namespace

namespace {

// Counts the documents of a stream, at most 2: only the parser's events, no tree.
int yaml_documents(std::string_view yaml) {
  struct ignore final : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } handler;
  std::istringstream in{std::string(yaml)};
  YAML::Parser parser(in);
  int n = 0;
  while (n < 2 && parser.HandleNextDocument(handler)) ++n;
  return n;
}

} // namespace

result<node_config> parse_config(std::string_view yaml, const std::string& source_name, const fs::path& base_dir) {
  yaml_walker w(source_name);
  try {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(yaml));
      // Load reads the first document only: a '---' or '...' line used to end the config there, silently
      // ignoring the rest (even broken YAML). (Not LoadAll: on some malformed input it yields empty documents
      // without end and runs out of memory, found by fuzz.config.)
      if (yaml_documents(yaml) > 1)
        return error{errc::config_syntax,
                     source_name + ": holds more than one YAML document (a '---' or '...' line); a config is one"};
    } catch (const YAML::ParserException& e) {
      w.fail_at(errc::config_syntax, e.mark, "", e.msg);
    }
    if (!root.IsDefined() || root.IsNull())
      return error{errc::config_missing_field, source_name + ": config is empty (need at least 'components' and 'transports')"};
    w.check_keys(root, "", {"node", "components", "transports", "agents", "agent_directory"});
    node_config cfg;
    cfg.source = source_name;
    cfg.data_dir = base_dir;
    if (auto n = w.child(root, "", "node", false); n.IsDefined()) parse_node_section(w, n, base_dir, cfg);
    auto listened = parse_transports(w, w.child(root, "", "transports", true), cfg);
    auto comps = w.child(root, "", "components", true);
    cfg.identity.key_file = cfg.data_dir / "identity.key";
    parse_components(w, comps, base_dir, cfg, listened);
    if (cfg.routing.transports.empty())
      for (auto& t : cfg.transports) cfg.routing.transports.push_back(t.name);
    // The node's name before the agents: none of them may take it.
    const bool name_given = !cfg.name.empty();
    if (cfg.name.empty()) cfg.name = cfg.data_dir.filename().string();
    if (!node_name_problem(cfg.name).empty()) cfg.name = "aqua";  // a data dir named so that it cannot name files
    if (auto a = w.child(root, "", "agents", false); a.IsDefined()) parse_agents(w, a, cfg, name_given, listened);
    if (auto d = w.child(root, "", "agent_directory", false); d.IsDefined() && !d.IsNull())
      parse_agent_directory(w, d, base_dir, cfg);
    return cfg;
  } catch (const config_failure& f) {
    return f.err;
  } catch (const YAML::Exception& e) {
    return error{errc::config_syntax, source_name + ": " + e.what()};
  }
}

result<node_config> load_config(const fs::path& file) {
  auto text = detail::read_file_bounded(file, max_config_bytes, "config '" + file.string() + "'", errc::config_syntax);
  if (!text) {
    // Too large is a config error already; a file that is missing, unreadable or a directory cannot be used either.
    if (text.err().code() == errc::config_syntax) return text.err();
    return error{errc::config_unreadable, text.err().message()};
  }
  // The config names the key file, the data dir and the plugins a node loads: one anybody else may change is
  // refused, as sshd refuses such an authorized_keys.
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && st.st_uid != ::geteuid() && st.st_uid != 0)
    return error{errc::insecure_permissions,
                 "config '" + file.string() + "' belongs to uid " + std::to_string(st.st_uid) + ", not to this user (uid " +
                   std::to_string(::geteuid()) + ") or root, and it names the key file and the plugins a node loads: "
                   "use a config of your own"};
  if (::stat(file.c_str(), &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return error{errc::insecure_permissions,
                 "config '" + file.string() + "' may be changed by other users (mode " + mode + "), and it names "
                 "the key file and the plugins a node loads: 'chmod go-w " + file.string() + "'"};
  }
  auto base = fs::absolute(file).parent_path();
  return parse_config(*text, file.string(), base);
}

std::uint32_t node_worker_threads(std::uint32_t configured, unsigned cores) {
  if (configured != 0) return configured;
  return std::clamp<std::uint32_t>(cores / 2, 1, 4);
}

std::string node_name_problem(std::string_view name) {
  if (name.empty() || name.size() > 64) return "a node name is 1 to 64 bytes, got " + std::to_string(name.size());
  if (name == "." || name == ".." || name.find('/') != std::string_view::npos)
    return "a node name must not be '.', '..' or contain '/' (it names the agent's card file)";
  const auto* p = reinterpret_cast<const std::uint8_t*>(name.data());
  for (std::size_t i = 0; i < name.size();) {
    if (p[i] < 0x20 || p[i] == 0x7f) return "a node name must not contain control characters";
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const auto n = detail::utf8_sequence(p + i, name.size() - i);
    if (n == 0) return "a node name must be UTF-8 text";
    i += n;
  }
  return {};
}

namespace {
// A YAML double-quoted scalar: whatever the name holds (':', '#', quotes), it stays one string.
std::string yaml_quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
} // namespace

std::string default_config_yaml(const std::string& name, const std::vector<std::string>& listen) {
  std::vector<std::string> memory, tcp;
  for (auto& a : listen) (a.rfind("/memory/", 0) == 0 ? memory : tcp).push_back(a);
  std::string out;
  out += "# aqua node configuration (written by 'aqua init').\n";
  out += "# Every key is documented in configs/node.example.yaml.\n";
  out += "node:\n";
  out += "  name: " + yaml_quoted(name) + "\n";
  out += "  # data_dir defaults to the directory holding this file\n";
  out += "  log_level: info\n";
  out += "components:\n";
  out += "  identity:\n    key_file: identity.key   # relative to data_dir, mode 0600\n";
  out += "  crypto: {}\n";
  out += "  routing:\n    routes: []               # - {peer: 12D3KooW..., address: /memory/bob}\n";
  out += "  relay:                   # circuit relay v2 server (docs/relay.md; aqua relay serve)\n";
  out += "    serve: false\n    listen: []               # e.g. [/ip4/0.0.0.0/tcp/4001]\n";
  out += "  mailbox: {}\n";
  out += "transports:\n";
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (auto& a : v) s += (s.empty() ? "" : ", ") + a;
    return s;
  };
  if (!tcp.empty()) {
    out += "  - plugin: zmq                # direct connections; peers dial the /p2p/ form of these\n";
    out += "    listen: [" + list(tcp) + "]\n";
  }
  if (!memory.empty()) {
    out += "  - plugin: loopback           # in-process only\n";
    out += "    listen: [" + list(memory) + "]\n";
  }
  return out;
}

} // namespace aqua
