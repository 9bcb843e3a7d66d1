// aqua init / aqua id

#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <optional>

#include "aqua/config.hpp"
#include "aqua/multiaddr.hpp"
#include "commands.hpp"
#include "identity/key_store.hpp"
#include "output.hpp"
#include "p2p/relay_client.hpp"
#include "store/store.hpp"

namespace aqua::cli {
namespace {

struct init_options {
  bool force = false;
  std::string name;
  std::vector<std::string> listen;
  std::vector<std::string> relays;  // --relay: a relay_v2 transport reserving on them
};

// `init --force` on a data dir with an identity: the old key and its store
// (E2EE sessions, inbox, outbox, contacts: all bound to that identity) go to
// <dir>/replaced-<UTC time>/ with a copy of the config (init writes a new
// one), never deleted, and never while a node runs.
result<fs::path> move_old_identity(const fs::path& dir, const fs::path& key_file) {
  const auto store_dir = dir / store::dir_name;
  std::error_code ec;
  const bool has_store = fs::exists(store_dir, ec);
  if (has_store) {
    auto db = store::db::open(store_dir, false);  // the lock tells whether a node has it open
    if (!db && db.err().code() == errc::store_locked)
      return error{errc::store_locked, "a node is running on '" + dir.string() +
                                           "' (its store is locked): stop it before replacing its identity"};
  }
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "replaced-%Y%m%dT%H%M%SZ", &utc);
  auto old = dir / stamp;
  for (int i = 2; fs::exists(old, ec); ++i) old = dir / (std::string(stamp) + "-" + std::to_string(i));
  if (!fs::create_directory(old, ec) || ::chmod(old.c_str(), 0700) != 0)
    return error{errc::io_error, "cannot create '" + old.string() + "' for the old identity: " + ec.message()};
  if (fs::exists(key_file, ec)) fs::rename(key_file, old / key_file_name, ec);
  if (!ec && has_store) fs::rename(store_dir, old / store::dir_name, ec);
  if (!ec && fs::exists(dir / config_file_name)) fs::copy_file(dir / config_file_name, old / config_file_name, ec);
  if (ec) return error{errc::io_error, "cannot move the old identity to '" + old.string() + "': " + ec.message()};
  return old;
}

int run_init(const global_options& g, const init_options& o) {
  auto dir = resolve_data_dir(g.dir);
  if (!dir) return report(dir.err(), g.json);
  auto key_file = *dir / key_file_name;
  auto config_file = *dir / config_file_name;
  if (auto why = node_name_problem(o.name); !o.name.empty() && !why.empty())
    return report(error{errc::invalid_argument, "--name: " + why}, g.json);
  for (auto& a : o.listen) {  // before anything is written
    auto m = multiaddr::parse(a);
    if (!m) return report(error{errc::invalid_argument, "--listen '" + a + "': " + m.err().message()}, g.json);
    if (m->has("p2p-circuit"))
      return report(error{errc::invalid_argument, "--listen '" + a + "': init writes a zmq transport (direct TCP); "
                                                   "to be reached through a relay, give the relay with --relay "
                                                   "/ip4/A/tcp/P/p2p/RELAY (docs/relay.md)"},
                    g.json);
    // default_config_yaml gives every address but /memory/ to the zmq transport, which takes TCP only.
    const bool host = m->has("ip4") || m->has("ip6") || m->has("dns") || m->has("dns4") || m->has("dns6");
    if (!m->has("memory") && (!host || !m->has("tcp") || m->has("udp")))
      return report(error{errc::invalid_argument, "--listen '" + a + "': init gives it to the zmq transport, which "
                                                   "needs /ip4|ip6|dns*/HOST/tcp/PORT (or /memory/NAME: in-process)"},
                    g.json);
  }
  if (auto twice = repeated(o.listen))
    return report(error{errc::invalid_argument, "--listen '" + *twice + "' is given twice"}, g.json);
  for (auto& r : o.relays)
    if (auto ok = p2p::relay_client::check_relay_address(r); !ok)
      return report(error{errc::invalid_argument, "--relay '" + r + "': " + ok.err().message() +
                                                   " (a relay is /ip4/HOST/tcp/PORT/p2p/<its peer ID>, as 'aqua "
                                                   "relay serve' prints it)"},
                    g.json);
  if (auto twice = repeated(o.relays))
    return report(error{errc::invalid_argument, "--relay '" + *twice + "' is given twice"}, g.json);
  std::error_code ec;
  const bool exists = fs::exists(key_file, ec);
  if (!o.force && exists)
    return report(error{errc::already_exists, "'" + dir->string() + "' already holds an identity (" +
                                                  key_file.string() + "); use --force to replace it"},
                  g.json);
  // A config or store without the key: the key was lost or moved. A new key beside that store could not start
  // (the store belongs to the old identity), and the config may be the user's own work.
  const bool leftovers = fs::exists(config_file, ec) || fs::exists(*dir / store::dir_name, ec);
  if (!o.force && leftovers)
    return report(error{errc::already_exists, "'" + dir->string() + "' holds a config or a store but no identity key (" +
                                                  key_file.string() + "): restore the key, or use --force to start a "
                                                  "new identity (the old files are moved aside)"},
                  g.json);
  if (auto r = ensure_private_dir(*dir); !r) return report(r.err(), g.json);
  std::optional<fs::path> moved;
  if (exists || leftovers) {
    auto m = move_old_identity(*dir, key_file);
    if (!m) return report(m.err(), g.json);
    moved = *m;
  }
  auto kp = keypair::generate();
  if (auto r = write_key_file(key_file, kp, true); !r) return report(r.err(), g.json);
  auto id = kp.id();
  auto name = o.name.empty() ? dir->filename().string() : o.name;
  if (name == ".aqua" || !node_name_problem(name).empty()) name = "aqua";
  auto listen = o.listen;
  if (listen.empty()) listen.push_back("/memory/" + id.str().substr(id.str().size() - 12));
  auto yaml = default_config_yaml(name, listen);
  if (!o.relays.empty()) {  // transports: is the file's last section
    std::string list;
    for (auto& r : o.relays) list += (list.empty() ? "" : ",") + r;
    yaml += "  - plugin: relay_v2           # reached through these relays (docs/relay.md): reserves on each\n"
            "    listen: [/p2p-circuit]\n"
            "    settings: {relays: \"" + list + "\"}\n";
  }
  if (auto r = write_file_atomic(config_file, yaml, 0600); !r) {
    // A key without its config is a data dir init refuses next time (already_exists) and nothing can run: the
    // new key, never used, goes again.
    std::error_code rm;
    fs::remove(key_file, rm);
    return report(error{r.err().code(), r.err().message() + " (the new identity key was removed again: run init "
                                                             "again once that is fixed)"},
                  g.json);
  }
  if (g.json) {
    nlohmann::json j{{"peer_id", id.str()}, {"public_key", id.key().hex()}, {"dir", dir->string()},
                     {"key_file", key_file.string()}, {"config", config_file.string()}};
    if (moved) j["replaced"] = moved->string();
    print_json(j);
  } else {
    std::cout << "Initialised aqua identity in " << dir->string() << "\n"
              << "  peer ID:  " << id.str() << "\n"
              << "  key file: " << key_file.string() << " (mode 0600)\n"
              << "  config:   " << config_file.string() << "\n";
    if (moved) std::cout << "  the old identity and its store were moved to " << moved->string() << "\n";
  }
  return exit_ok;
}

int run_id(const global_options& g) {
  auto dir = resolve_data_dir(g.dir);
  if (!dir) return report(dir.err(), g.json);
  auto kp = read_identity(*dir);
  if (!kp) return report(kp.err(), g.json);
  auto id = kp->id();
  if (g.json)
    print_json({{"peer_id", id.str()}, {"public_key", id.key().hex()}});
  else
    std::cout << id.str() << "\n";
  return exit_ok;
}

} // namespace

void add_identity_commands(CLI::App& app, global_options& g, int& rc) {
  auto opts = std::make_shared<init_options>();
  auto* init = app.add_subcommand("init", "Create an identity (Ed25519 key pair) and a default config in the data dir");
  init->add_flag("--force", opts->force,
                 "Replace an existing identity: the old key and its store (sessions, inbox, outbox, contacts) are "
                 "moved to <data dir>/replaced-<UTC time>/; refused while a node runs on the data dir");
  init->add_option("--name", opts->name, "Node name written into the config (default: data dir name)");
  init->add_option("--listen", opts->listen,
                   "Address to listen on (repeatable): /ip4/IP/tcp/PORT for direct connections (zmq), "
                   "/memory/NAME in-process; default: an in-process address only, nothing on the network");
  init->add_option("--relay", opts->relays,
                   "A circuit relay to be reached through (repeatable): /ip4/IP/tcp/PORT/p2p/RELAY_ID, as 'aqua relay "
                   "serve' prints it. Adds a relay_v2 transport that reserves on it; peers behind NAT reach each other "
                   "through it, and its mailbox holds mail while you are offline");
  init->footer("Examples:\n  aqua init\n  aqua init --listen /ip4/0.0.0.0/tcp/4001\n  aqua init --relay /ip4/192.0.2.10/tcp/4001/p2p/12D3KooW...\n  aqua --dir /tmp/alice init --name alice\n  AQUA_DIR=/srv/agent aqua init --force --json");
  init->callback([&g, &rc, opts] { rc = run_init(g, *opts); });

  auto* id = app.add_subcommand("id", "Print this node's peer ID (--json adds the public key)");
  id->footer("Examples:\n  aqua id\n  aqua id --json   # {\"peer_id\": \"12D3KooW...\", \"public_key\": \"<hex>\"}");
  id->callback([&g, &rc] { rc = run_id(g); });
}

} // namespace aqua::cli
