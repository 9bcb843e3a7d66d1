#include <gtest/gtest.h>

#include "aqua/config.hpp"
#include "aqua/multiaddr.hpp"

using namespace aqua;

namespace {

const std::string bob = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";

result<node_config> parse(const std::string& yaml) { return parse_config(yaml, "test.yaml", "/base"); }

void expect_error(const std::string& yaml, errc code, const std::string& where, const std::string& what) {
  auto r = parse(yaml);
  ASSERT_FALSE(r) << "config unexpectedly valid:\n" << yaml;
  EXPECT_EQ(r.err().code(), code) << r.err().what();
  EXPECT_EQ(r.err().message().rfind("test.yaml:" + where, 0), 0u) << r.err().message();
  EXPECT_NE(r.err().message().find(what), std::string::npos) << r.err().message();
}

const char* minimal = "components: {}\ntransports: []\n";

} // namespace

TEST(config, minimal_config_takes_defaults) {
  auto r = parse(minimal);
  ASSERT_TRUE(r) << r.err().what();
  EXPECT_EQ(r->data_dir, std::filesystem::path("/base"));
  EXPECT_EQ(r->identity.key_file, std::filesystem::path("/base/identity.key"));
  EXPECT_EQ(r->log_level, "info");
  EXPECT_FALSE(r->relay.serve);
  EXPECT_EQ(r->crypto.max_frame_bytes, 1u << 20);
}

TEST(config, full_example_parses) {
  auto r = load_config(AQUA_SOURCE_DIR "/configs/node.example.yaml");
  ASSERT_TRUE(r) << r.err().what();
  EXPECT_EQ(r->name, "alice");
  ASSERT_EQ(r->transports.size(), 1u);
  EXPECT_EQ(r->transports[0].name, "lo");
  EXPECT_EQ(r->transports[0].settings.at("queue_frames"), "1024");
  ASSERT_EQ(r->routing.routes.size(), 1u);
  EXPECT_EQ(r->routing.routes[0].peer.str(), bob);
  EXPECT_EQ(r->routing.routes[0].address, "/memory/bob");
}

TEST(config, rejects_unknown_key_with_location_and_path) {
  expect_error("components:\n  routing:\n    rutes: []\ntransports: []\n", errc::config_unknown_key, "3:5:",
               "components.routing.rutes: unknown key (allowed here: transports, routes)");
  expect_error("nodes: {}\ncomponents: {}\ntransports: []\n", errc::config_unknown_key, "1:1:", "nodes: unknown key");
}

TEST(config, rejects_duplicate_key) {
  expect_error("components: {}\ntransports: []\ncomponents: {}\n", errc::config_syntax, "3:1:",
               "components: duplicate key");
}

TEST(config, rejects_wrong_type) {
  expect_error("components:\n  relay:\n    serve: maybe\ntransports: []\n", errc::config_wrong_type, "3:12:",
               "components.relay.serve: expected a boolean (true/false; yes/no and on/off are read as well), got 'maybe'");
  expect_error("components: {}\ntransports: {plugin: loopback}\n", errc::config_wrong_type, "2:13:",
               "transports: expected a list, got a mapping");
  expect_error("components:\n  mailbox:\n    send_window: lots\ntransports: []\n", errc::config_wrong_type, "3:18:",
               "components.mailbox.send_window: expected an integer, got 'lots'");
  expect_error("components: {}\ntransports:\n  - plugin: [a]\n", errc::config_wrong_type, "3:13:",
               "transports[0].plugin: expected a string, got a list");
}

TEST(config, rejects_missing_field) {
  expect_error("components: {}\ntransports:\n  - listen: [/memory/a]\n", errc::config_missing_field, "3:5:",
               "transports[0]: missing required key 'plugin'");
  expect_error("transports: []\n", errc::config_missing_field, "1:1:", "missing required key 'components'");
  expect_error("components:\n  routing:\n    routes:\n      - address: /memory/b\ntransports: []\n",
               errc::config_missing_field, "4:9:", "components.routing.routes[0]: missing required key 'peer'");
}

TEST(config, rejects_bad_values) {
  expect_error("node:\n  log_level: loud\ncomponents: {}\ntransports: []\n", errc::config_bad_value, "2:14:",
               "node.log_level: 'loud' is not one of");
  expect_error("components:\n  crypto:\n    max_frame_bytes: 10\ntransports: []\n", errc::config_bad_value, "3:22:",
               "out of range 1024..67108864");
  expect_error("components:\n  routing:\n    routes:\n      - {peer: 12D3KooW0pe, address: /memory/b}\ntransports: []\n",
               errc::config_bad_value, "4:16:", "components.routing.routes[0].peer: '12D3KooW0pe' is not a peer ID (12D3KooW..., as 'aqua id' prints): bad_base58");
  expect_error("components:\n  routing:\n    transports: [zmq]\ntransports:\n  - plugin: loopback\n",
               errc::config_bad_value, "3:18:", "no transport named 'zmq'");
  expect_error("components: {}\ntransports:\n  - plugin: Loop-Back\n", errc::config_bad_value, "3:13:",
               "plugin names are [a-z0-9_]+");
  expect_error("components: {}\ntransports:\n  - plugin: loopback\n  - plugin: loopback\n", errc::config_bad_value,
               "4:5:", "transport name 'loopback' is used twice");
  expect_error("components:\n  mailbox:\n    agent_keep_handled: 1000001\ntransports: []\n", errc::config_bad_value,
               "3:25:", "components.mailbox.agent_keep_handled: 1000001 is out of range 0..1000000");
  // Beyond 64 bits is still a number, only too large (it read as "expected an integer").
  expect_error("components:\n  mailbox:\n    send_window: 99999999999999999999999\ntransports: []\n",
               errc::config_bad_value, "3:18:",
               "components.mailbox.send_window: 99999999999999999999999 is out of range 1..1000");
}

TEST(config, worker_threads_default_to_half_the_cores_between_one_and_four) {
  auto r = parse(minimal);
  ASSERT_TRUE(r) << r.err().what();
  EXPECT_EQ(r->worker_threads, 0u);  // auto
  EXPECT_EQ(node_worker_threads(0, 0), 1u);  // hardware_concurrency() may not know
  EXPECT_EQ(node_worker_threads(0, 1), 1u);
  EXPECT_EQ(node_worker_threads(0, 2), 1u);
  EXPECT_EQ(node_worker_threads(0, 4), 2u);
  EXPECT_EQ(node_worker_threads(0, 64), 4u);
  EXPECT_EQ(node_worker_threads(3, 2), 3u);  // a configured number is kept
  auto set = parse("node:\n  worker_threads: 3\ncomponents: {}\ntransports: []\n");
  ASSERT_TRUE(set) << set.err().what();
  EXPECT_EQ(set->worker_threads, 3u);
  expect_error("node:\n  worker_threads: 65\ncomponents: {}\ntransports: []\n", errc::config_bad_value, "2:19:",
               "node.worker_threads: 65 is out of range 0..64");
  expect_error("node:\n  worker_threads: many\ncomponents: {}\ntransports: []\n", errc::config_wrong_type, "2:19:",
               "node.worker_threads");
}

TEST(config, rejects_bad_addresses) {
  expect_error("components: {}\ntransports:\n  - plugin: loopback\n    listen: [/ip4/300.1.1.1/tcp/1]\n",
               errc::config_bad_address, "4:14:", "transports[0].listen[0]: address '/ip4/300.1.1.1/tcp/1': /ip4/300.1.1.1: not an IPv4 address");
  expect_error("components: {}\ntransports:\n  - plugin: loopback\n    listen: [/ip4/127.0.0.1/tcp/70000]\n",
               errc::config_bad_address, "4:14:", "port must be 0..65535");
  expect_error("components: {}\ntransports:\n  - plugin: loopback\n    listen: [memory/x]\n", errc::config_bad_address,
               "4:14:", "must start with '/'");
  expect_error("components:\n  routing:\n    routes:\n      - {peer: " + bob + ", address: /udx/1}\ntransports: []\n",
               errc::config_bad_address, "4:79:", "unknown protocol 'udx'");
}

TEST(config, reports_yaml_syntax_errors_with_location) {
  expect_error("components: {\ntransports: []\n", errc::config_syntax, "", "");
  auto r = parse("components:\n  - a\n  b: c\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::config_syntax);
  EXPECT_NE(r.err().message().find("test.yaml:"), std::string::npos);
}

TEST(config, empty_file_is_an_error) {
  auto r = parse("");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::config_missing_field);
}

TEST(config, every_shipped_config_is_valid) {
  int n = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(AQUA_SOURCE_DIR "/configs")) {
    if (e.path().extension() != ".yaml") continue;
    auto r = load_config(e.path());
    EXPECT_TRUE(r) << e.path() << ": " << (r ? "" : r.err().what());
    ++n;
  }
  EXPECT_GE(n, 3);
}

TEST(multiaddr, parses_tcp_circuit_and_memory_addresses) {
  auto a = multiaddr::parse("/ip4/127.0.0.1/tcp/4001/p2p/" + bob + "/p2p-circuit/p2p/" + bob);
  ASSERT_TRUE(a) << a.err().what();
  EXPECT_EQ(a->parts().size(), 5u);
  EXPECT_EQ(a->value_of("tcp"), "4001");
  EXPECT_TRUE(a->has("p2p-circuit"));
  EXPECT_TRUE(multiaddr::parse("/memory/alice"));
  EXPECT_TRUE(multiaddr::parse("/ip6/::1/tcp/1"));
  EXPECT_TRUE(multiaddr::parse("/dns4/relay.example/tcp/443"));
}

TEST(multiaddr, rejects_malformed_addresses) {
  for (const char* bad : {"", "/", "/ip4", "/ip4/1.2.3/tcp/1", "/tcp/-1", "/tcp/abc", "/memory/", "/p2p/xyz", "//memory/a"})
    EXPECT_FALSE(multiaddr::parse(bad)) << bad;
}

TEST(config, relay_server_keys_parse) {
  auto r = parse(
      "components:\n  relay:\n    serve: true\n    listen: [/ip4/0.0.0.0/tcp/4001, /ip4/127.0.0.1/tcp/4002]\n"
      "    announce: [/ip4/203.0.113.7/tcp/4001]\n    max_connections: 500\n    max_reservations: 64\n"
      "    max_reservations_per_ip: 4\n    max_circuits_per_peer: 8\n    reservation_ttl_s: 1800\n"
      "    circuit_duration_s: 0\n    circuit_data_bytes: 10000000000\n    max_connects_per_minute: 0\n"
      "    mailbox: false\n    mailbox_max_messages_per_peer: 50\n    mailbox_max_bytes_per_peer: 1048576\n"
      "    mailbox_max_bytes_total: 8589934592\n    mailbox_max_ttl_s: 86400\n    max_connections_per_ip: 5\n"
      "    mailbox_max_incomplete_bytes_per_peer: 5000000\n    mailbox_max_incomplete_bytes_total: 9000000\n"
      "    mailbox_incomplete_timeout_s: 10\n    mailbox_min_free_bytes: 0\n    ping_interval_s: 5\n"
      "    ping_timeout_s: 12\n    new_connections_per_ip_per_s: 0\ntransports: []\n");
  ASSERT_TRUE(r) << r.err().what();
  const auto& c = r->relay;
  EXPECT_TRUE(c.serve);
  EXPECT_EQ(c.listen, (std::vector<std::string>{"/ip4/0.0.0.0/tcp/4001", "/ip4/127.0.0.1/tcp/4002"}));
  EXPECT_EQ(c.announce, std::vector<std::string>{"/ip4/203.0.113.7/tcp/4001"});
  EXPECT_EQ(c.max_connections, 500u);
  EXPECT_EQ(c.max_reservations, 64u);
  EXPECT_EQ(c.max_reservations_per_ip, 4u);
  EXPECT_EQ(c.max_circuits_per_peer, 8u);
  EXPECT_EQ(c.reservation_ttl_s, 1800u);
  EXPECT_EQ(c.circuit_duration_s, 0u);
  EXPECT_EQ(c.circuit_data_bytes, 10000000000ull);
  EXPECT_EQ(c.max_connects_per_minute, 0u);
  EXPECT_FALSE(c.mailbox);
  EXPECT_EQ(c.mailbox_max_messages_per_peer, 50u);
  EXPECT_EQ(c.mailbox_max_bytes_per_peer, 1048576u);
  EXPECT_EQ(c.mailbox_max_bytes_total, 8589934592ull);
  EXPECT_EQ(c.mailbox_max_ttl_s, 86400u);
  EXPECT_EQ(c.max_connections_per_ip, 5u);
  EXPECT_EQ(c.mailbox_max_incomplete_bytes_per_peer, 5000000u);
  EXPECT_EQ(c.mailbox_max_incomplete_bytes_total, 9000000u);
  EXPECT_EQ(c.mailbox_incomplete_timeout_s, 10u);
  EXPECT_EQ(c.mailbox_min_free_bytes, 0u);
  EXPECT_EQ(c.ping_interval_s, 5u);
  EXPECT_EQ(c.ping_timeout_s, 12u);
  EXPECT_EQ(c.new_connections_per_ip_per_s, 0u);  // no limit
  auto d = parse(minimal);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->relay.listen.empty());
  EXPECT_EQ(d->relay.circuit_data_bytes, 131072u);
  EXPECT_EQ(d->relay.reservation_ttl_s, 3600u);
  EXPECT_TRUE(d->relay.mailbox);
  EXPECT_EQ(d->relay.max_connections_per_ip, 32u);
  EXPECT_EQ(d->relay.new_connections_per_ip_per_s, 64u);
  EXPECT_EQ(d->relay.mailbox_max_incomplete_bytes_per_peer, 16u << 20);
  EXPECT_EQ(d->relay.mailbox_max_incomplete_bytes_total, 128u << 20);
  EXPECT_EQ(d->relay.mailbox_incomplete_timeout_s, 30u);
  EXPECT_EQ(d->relay.mailbox_min_free_bytes, 256u << 20);
  EXPECT_EQ(d->relay.ping_interval_s, 15u);
  EXPECT_EQ(d->relay.ping_timeout_s, 45u);
  auto off = parse("components:\n  relay:\n    ping_interval_s: 0\n    ping_timeout_s: 0\ntransports: []\n");
  ASSERT_TRUE(off) << off.err().what();  // keepalive off altogether
}

TEST(config, relay_server_keys_are_checked_with_their_path) {
  // A live but quiet peer sends only its answers to the relay's pings: a timeout within one interval closes it.
  expect_error("components:\n  relay:\n    ping_interval_s: 20\n    ping_timeout_s: 20\ntransports: []\n",
               errc::config_bad_value, "4:21:",
               "components.relay.ping_timeout_s: 20 needs pings and must be more than ping_interval_s (20)");
  expect_error("components:\n  relay:\n    ping_interval_s: 0\ntransports: []\n", errc::config_bad_value, "",
               "components.relay.ping_timeout_s: 45 needs pings");
  expect_error("components:\n  relay:\n    serve: true\ntransports: []\n", errc::config_missing_field, "3:12:",
               "components.relay.listen: relay.serve: true needs at least one listen address");
  expect_error("components:\n  relay:\n    listen: [/ip4/1.2.3.4/udp/1]\ntransports: []\n", errc::config_bad_address,
               "3:14:", "components.relay.listen[0]: expected /ip4/A/tcp/P, got '/ip4/1.2.3.4/udp/1'");
  expect_error("components:\n  relay:\n    announce: /ip4/1.2.3.4/tcp/1\ntransports: []\n", errc::config_wrong_type,
               "3:15:", "components.relay.announce: expected a list");
  expect_error("components:\n  relay:\n    reservation_ttl_s: 5\ntransports: []\n", errc::config_bad_value, "3:24:",
               "components.relay.reservation_ttl_s: 5 is out of range 60..604800");
  expect_error("components:\n  relay:\n    circuit_data_bytes: lots\ntransports: []\n", errc::config_wrong_type,
               "3:25:", "components.relay.circuit_data_bytes: expected an integer, got 'lots'");
  expect_error("components:\n  relay:\n    circuit_data_bytes: -5\ntransports: []\n", errc::config_bad_value,
               "3:25:", "components.relay.circuit_data_bytes: -5 is out of range 0..1099511627776 (no negative values)");
  expect_error("components:\n  relay:\n    mailbox_max_bytes_per_peer: 4096\n    mailbox_max_bytes_total: 2048\n"
               "transports: []\n",
               errc::config_bad_value, "3:33:", "components.relay.mailbox_max_bytes_per_peer: exceeds mailbox_max_bytes_total");
  // One whole mailbox message (4 MiB + 64 KiB) must fit, or the largest deposits could never arrive.
  expect_error("components:\n  relay:\n    mailbox_max_incomplete_bytes_per_peer: 1000000\ntransports: []\n",
               errc::config_bad_value, "3:44:",
               "components.relay.mailbox_max_incomplete_bytes_per_peer: 1000000 is out of range 4259840..");
  expect_error("components:\n  relay:\n    mailbox_max_incomplete_bytes_per_peer: 9000000\n"
               "    mailbox_max_incomplete_bytes_total: 5000000\ntransports: []\n",
               errc::config_bad_value, "3:44:",
               "components.relay.mailbox_max_incomplete_bytes_per_peer: exceeds mailbox_max_incomplete_bytes_total");
  expect_error("components:\n  relay:\n    max_connections_per_ip: 0\ntransports: []\n", errc::config_bad_value,
               "3:29:", "components.relay.max_connections_per_ip: 0 is out of range 1..65536");
  expect_error("components:\n  relay:\n    new_connections_per_ip_per_s: 1000001\ntransports: []\n",
               errc::config_bad_value, "3:35:",
               "components.relay.new_connections_per_ip_per_s: 1000001 is out of range 0..1000000");
  expect_error("components:\n  relay:\n    mailbox_min_free_bytes: 99999999999999999\ntransports: []\n",
               errc::config_bad_value, "3:29:",
               "components.relay.mailbox_min_free_bytes: 99999999999999999 is out of range 0..17592186044416");
  expect_error("components:\n  relay:\n    max_hops: 3\ntransports: []\n", errc::config_unknown_key, "3:5:",
               "components.relay.max_hops");
}

TEST(config, a_second_yaml_document_is_refused_not_ignored) {
  // yaml-cpp's Load reads the first document only: everything after '---' or '...' was silently dropped.
  for (const char* sep : {"---\n", "...\n"}) {
    auto r = parse(std::string(minimal) + sep + "junk: [[[\n");
    ASSERT_FALSE(r) << sep;
    EXPECT_EQ(r.err().code(), errc::config_syntax) << r.err().what();
  }
  auto r = parse(std::string(minimal) + "---\ncomponents: {crypto: {unknown_senders: reject}}\ntransports: []\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.err().message().find("holds more than one YAML document"), std::string::npos) << r.err().what();
  EXPECT_FALSE(parse(", li}}\ntranspor"));  // LoadAll ran out of memory on this one (fuzz.config)
  EXPECT_TRUE(parse(std::string("---\n") + minimal));  // a leading document marker is one document
}

TEST(config, a_node_name_cannot_name_a_file_elsewhere_and_init_quotes_it) {
  expect_error(std::string("node: {name: ../escaped}\n") + minimal, errc::config_bad_value, "1:", "node.name");
  expect_error(std::string("node: {name: a/b}\n") + minimal, errc::config_bad_value, "1:", "contain '/'");
  expect_error(std::string("node: {name: \"a\\x1b[2J\"}\n") + minimal, errc::config_bad_value, "1:", "control characters");
  // What init writes: a name with YAML syntax in it stays one string, and nothing can be injected after it.
  for (const std::string name : {"x: y", "#x", "null", "~", "a \"quoted\" \\ name", "héllo wörld"}) {
    auto r = parse_config(default_config_yaml(name, {"/memory/a"}), "init.yaml", "/base");
    ASSERT_TRUE(r) << name << ": " << r.err().what();
    EXPECT_EQ(r->name, name);
  }
  EXPECT_EQ(node_name_problem("x\n  log_level: off"), "a node name must not contain control characters");
  EXPECT_EQ(node_name_problem("alice"), "");
}

// located_error: the loader remembers where each plugin entry and setting is, so a plugin's own error about its
// settings can name the line the user has to change.
namespace {

const char* with_settings =
    "components: {}\n"
    "transports:\n"
    "  - plugin: zmq\n"
    "    settings:\n"
    "      hwm: 5\n"
    "      max_connections: lots\n"
    "agents:\n"
    "  - plugin: news\n"
    "    settings: {max: x, maxx: 3}\n";

} // namespace

TEST(config, a_plugin_error_is_located_at_the_setting_it_names) {
  auto r = parse(with_settings);
  ASSERT_TRUE(r) << r.err().what();
  auto e = located_error(*r, "transports[0]", r->transports[0].settings,
                         error{errc::config_bad_value, "setting max_connections: 'lots' is not an integer"});
  EXPECT_EQ(e.code(), errc::config_bad_value);
  EXPECT_EQ(e.message(),
            "test.yaml:6:24: transports[0].settings.max_connections: setting max_connections: 'lots' is not an integer");
}

TEST(config, a_quoted_setting_wins_over_settings_the_message_lists) {
  auto r = parse(with_settings);
  ASSERT_TRUE(r) << r.err().what();
  auto e = located_error(*r, "agents[0]", r->agents[0].settings,
                         error{errc::config_unknown_key, "agent news: unknown setting 'maxx' (news knows headlines, max)"});
  EXPECT_EQ(e.message().rfind("test.yaml:9:30: agents[0].settings.maxx: agent news:", 0), 0u) << e.message();
}

TEST(config, a_plugin_error_naming_no_single_setting_is_located_at_its_entry) {
  auto r = parse(with_settings);
  ASSERT_TRUE(r) << r.err().what();
  // both keys named, neither quoted: the entry
  auto both = located_error(*r, "transports[0]", r->transports[0].settings,
                            error{errc::config_bad_value, "hwm must be below max_connections"});
  EXPECT_EQ(both.message(), "test.yaml:3:5: transports[0]: hwm must be below max_connections");
  // "max" inside "max_frame_bytes" is not the setting "max"
  auto inside = located_error(*r, "agents[0]", {{"max", "x"}}, error{errc::config_bad_value, "max_frame_bytes: too big"});
  EXPECT_EQ(inside.message(), "test.yaml:8:5: agents[0]: max_frame_bytes: too big");
}

TEST(config, a_plugin_that_cannot_be_loaded_is_located_at_its_plugin_key) {
  auto r = parse(with_settings);
  ASSERT_TRUE(r) << r.err().what();
  auto e = located_error(*r, "agents[0]", r->agents[0].settings,
                         error{errc::plugin_not_found, "agent plugin 'news' (libaqua_agent_news.so) not found"});
  EXPECT_EQ(e.code(), errc::plugin_not_found);
  EXPECT_EQ(e.message().rfind("test.yaml:8:13: agents[0].plugin: agent plugin 'news'", 0), 0u) << e.message();
}

TEST(config, a_config_built_in_code_leaves_plugin_errors_as_they_are) {
  node_config cfg;
  cfg.transports.push_back(transport_config{"zmq", "zmq", {}, {{"hwm", "x"}}});
  auto e = located_error(cfg, "transports[0]", cfg.transports[0].settings, error{errc::config_bad_value, "setting hwm: x"});
  EXPECT_EQ(e.message(), "setting hwm: x");
}

TEST(config, an_agent_cannot_take_the_node_name) {
  // The daemon's card would take the agent's place in the name table: refused, located at the agent's name.
  expect_error(std::string("node: {name: data}\n") + minimal + "agents:\n  - {plugin: news, name: data}\n",
               errc::config_bad_value, "5:26: agents[0].name:", "agent name 'data' is the daemon's name (its node.name)");
  // The name defaults to the plugin, and the node name to the data dir's name (/base here).
  expect_error(std::string("node: {name: data}\n") + minimal + "agents:\n  - plugin: data\n", errc::config_bad_value,
               "5:5: agents[0].name:", "is the daemon's name (its node.name)");
  expect_error(std::string(minimal) + "agents:\n  - {plugin: news, name: base}\n", errc::config_bad_value,
               "4:26: agents[0].name:",
               "agent name 'base' is the daemon's name (no node.name is set: the data dir's name, 'base')");
  auto fine = parse(std::string("node: {name: data}\n") + minimal + "agents:\n  - {plugin: data, name: data2}\n");
  ASSERT_TRUE(fine) << fine.err().what();
}

TEST(config, a_path_with_a_control_character_is_refused_where_it_stands) {
  // A NUL cut the data dir short where the OS read it ("d\0evil" was the key file of "d"), and config check
  // showed it as "d evil"; a newline garbled every message naming it.
  expect_error(std::string("node: {data_dir: \"d\\0evil\"}\n") + minimal, errc::config_bad_value, "1:18: node.data_dir:",
               "a path must not contain control characters (found byte 0, a NUL)");
  expect_error(std::string("node: {data_dir: \"d\\nx\"}\n") + minimal, errc::config_bad_value, "1:18: node.data_dir:",
               "found byte 10, a newline");
  expect_error(std::string("node: {plugin_path: [ok, \"p\\x1b[2J\"]}\n") + minimal, errc::config_bad_value,
               "1:26: node.plugin_path[1]:", "found byte 27");
  expect_error(std::string("node: {}\ncomponents:\n  identity: {key_file: \"k\\tey\"}\ntransports: []\n"),
               errc::config_bad_value, "3:24: components.identity.key_file:", "found byte 9");
  expect_error(std::string("node: {data_dir: \"d\\u0085x\"}\n") + minimal, errc::config_bad_value, "1:18: node.data_dir:",
               "found U+0085, a C1 control");
  auto fine = parse(std::string("node: {data_dir: \"d \\u00e9vil\", plugin_path: [a b]}\n") + minimal);
  ASSERT_TRUE(fine) << fine.err().what();
  EXPECT_EQ(fine->data_dir, std::filesystem::path("/base/d \u00e9vil"));
}
