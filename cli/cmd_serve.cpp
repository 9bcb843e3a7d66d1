// aqua serve: run the node from YAML until SIGINT/SIGTERM, then stop
// cleanly (every actor finishes, the store is closed after its last write).
// While it runs, <data dir>/control.sock serves the control API
// (docs/api/control.md) that `aqua send`, `aqua status`, `aqua inbox` use.

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <thread>

#include "agent_trace.hpp"
#include <spdlog/spdlog.h>

#include "aqua/agent.hpp"
#include "aqua/node.hpp"
#include "agent/agent_transports.hpp"
#include "control/control_server.hpp"
#include "commands.hpp"
#include "daemon_client.hpp"
#include "node_start.hpp"
#include "identity/key_store.hpp"
#include "output.hpp"

namespace aqua::cli {
namespace {

// A daemon holds a descriptor per TCP connection besides its store's files: it takes its whole open-file
// allowance, as servers do (the soft limit is often 1024 under a hard limit of a million). The zmq transport
// then lets each listener hold at most half of it (docs/transports.md, "Connection limits").
void raise_open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t want = std::min<rlim_t>(rl.rlim_max, rlim_t{1} << 20);
  if (want <= rl.rlim_cur) return;
  const auto was = rl.rlim_cur;
  rl.rlim_cur = want;
  if (::setrlimit(RLIMIT_NOFILE, &rl) == 0) spdlog::debug("open-file limit raised from {} to {}", was, want);
}

// How long a stop may take before the process ends without finishing it: 30 s. AQUA_TEST_SHUTDOWN_GRACE_MS
// (1..30000; for tests of the watchdog only, not documented for users) shortens it.
std::chrono::milliseconds shutdown_grace() {
  std::chrono::milliseconds grace{30000};
  if (const char* v = std::getenv("AQUA_TEST_SHUTDOWN_GRACE_MS")) {
    const std::string_view text(v);
    std::uint32_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec == std::errc() && end == text.data() + text.size() && ms >= 1 && ms <= 30000)
      grace = std::chrono::milliseconds(ms);
  }
  return grace;
}

} // namespace

int run_daemon(const global_options& g, const std::string& config, const daemon_overrides& o) {
  auto cfg = load_node_config(g, config);
  if (!cfg) return report(cfg.err(), g.json);
  if (g.log_level.empty()) spdlog::set_level(spdlog::level::from_str(cfg->log_level));  // --log-level wins
  raise_open_file_limit();
  if (o.relay) {
    cfg->relay.serve = true;
    if (auto twice = repeated(o.relay_listen))
      return report(error{errc::invalid_argument, "--listen '" + *twice + "' is given twice"}, g.json);
    if (!o.relay_listen.empty()) cfg->relay.listen = o.relay_listen;
    if (cfg->relay.listen.empty())
      return report(error{errc::invalid_argument,
                          "aqua relay serve: no listen address: pass --listen /ip4/0.0.0.0/tcp/4001 or set "
                          "components.relay.listen in " + cfg->source.string()},
                    g.json);
  }
  // Block the signals before any thread starts, so sigwait() receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Agent plugins are loaded (and their settings checked) before anything starts, so a missing plugin or a bad
  // setting fails before "serving"; the agents start after it (they may wait for the agent directory).
  auto made = agent_host::load(*cfg);
  if (!made) return report(made.err(), g.json);
  if (agents::add_daemon_loopback(*cfg))
    spdlog::info("{}: no loopback transport: added a dial-only one, so the daemon reaches its agents in process",
                 cfg->source.string());
  // A signal while the plugins loaded (a factory may take its time): stop before serving anything.
  const timespec no_wait{0, 0};
  if (const int early = sigtimedwait(&set, nullptr, &no_wait); early > 0) {
    const char* name = early == SIGINT ? "SIGINT" : "SIGTERM";
    if (g.json) print_json({{"event", "stopped"}, {"signal", name}, {"while", "starting"}});
    else std::cout << "aqua: stopped on " << name << " while loading plugins; nothing was served" << std::endl;
    return exit_ok;
  }
  int sig = 0;
  const auto signal_name = [&sig] { return sig == SIGINT ? "SIGINT" : "SIGTERM"; };
  auto n = start_node_interruptibly(
    *cfg,
    [&] {
      const timespec now{0, 0};
      return (sig = sigtimedwait(&set, nullptr, &now)) > 0;
    },
    [&] {
      if (g.json) print_json({{"event", "stopped"}, {"signal", signal_name()}, {"while", "starting"}});
      else std::cout << "aqua: stopped on " << signal_name() << " while starting; nothing was served" << std::endl;
    });
  sig = 0;
  if (!n && n.err().code() == errc::store_locked)
    if (auto pid = store_holder(cfg->data_dir)) {  // who: most often a daemon already serving this data dir
      const bool serving = static_cast<bool>(daemon_client::connect(cfg->data_dir));
      return report(error{errc::store_locked,
                          n.err().message() + (serving ? "; a daemon already serves " + cfg->data_dir.string() +
                                                             " (pid " + std::to_string(*pid) + "): 'aqua status' shows it"
                                                       : "; pid " + std::to_string(*pid) + " holds it")},
                    g.json);
    }
  if (!n) return report(n.err(), g.json);
  auto ctl = control::server::start(**n, cfg->data_dir);
  if (!ctl) return report(ctl.err(), g.json);
  std::vector<std::string> relay_addrs;
  if (cfg->relay.serve) {
    auto st = (*n)->status();
    if (!st) return report(st.err(), g.json);
    relay_addrs = st->relay.addresses;
  }
  if (g.json) {
    print_json({{"event", "serving"}, {"peer_id", (*n)->id().str()}, {"listen", (*n)->listen_addresses()},
                {"relay", relay_addrs}, {"card", (*n)->card()}, {"config", cfg->source.string()},
                {"control", (*ctl)->path().string()}});
  } else {
    std::cout << "aqua: serving as " << (*n)->id().str() << "\n";
    for (auto& a : (*n)->listen_addresses()) std::cout << "  listening on " << a << "\n";
    for (auto& a : relay_addrs) std::cout << "  relay: " << a << "\n";
    std::cout << "  control API: " << (*ctl)->path().string() << "\n  card: " << (*n)->card()
              << "\n  stop with Ctrl-C (SIGINT) or SIGTERM" << std::endl;
  }
  // Agents from the config's `agents:` list (docs/agents.md); each has its own identity. With an agent_directory
  // and no agents the host still publishes the daemon's card and waits for `require` (a daemon fronting an agent
  // that uses the control API is found there too).
  std::unique_ptr<agent_host> agents;
  if (!cfg->agents.empty() || !cfg->agent_directory.path.empty()) {
    agent_host::options opts;
    opts.daemon = n->get();
    opts.cancelled = [&set, &sig] {  // a signal while the agents wait for the directory's cards
      const timespec now{0, 0};
      if (sig <= 0) sig = sigtimedwait(&set, nullptr, &now);
      return sig > 0;
    };
    opts.on_event = [json = g.json](const agent_event& e) {
      if (json) print_json(agent_event_json(e));
      else std::cout << "  agent " << format_agent_event(e) << std::endl;
    };
    auto host = agent_host::start_with(*cfg, std::move(*made), opts);
    if (!host && sig <= 0) {
      (*ctl)->stop();
      return report(host.err(), g.json);
    }
    if (host) agents = std::move(*host);
  }
  // Until a signal, or until a store fails (fail-stop, node::store_failure) —
  // the daemon's or an agent's: a node that cannot write can neither send nor
  // receive, and a restart resumes from its durable state, so the daemon
  // exits for its supervisor.
  std::optional<error> failed;
  const timespec tick{1, 0};
  while (sig <= 0 && !failed) {
    sig = sigtimedwait(&set, nullptr, &tick);
    if (sig > 0) break;
    failed = (*n)->store_failure();
    if (!failed && agents) failed = agents->store_failure();
  }
  // An agent handler that never returns would hold the stop forever (its actor cannot be interrupted): after
  // shutdown_grace the process ends anyway. Nothing durable is lost (every store write is synced when it is
  // acknowledged), but the exit code says the stop was not clean.
  std::thread([grace = shutdown_grace()] {
    std::this_thread::sleep_for(grace);
    spdlog::error("aqua serve: the stop did not finish within {} ms (an agent's handler may never return); exiting",
                  grace.count());
    std::_Exit(1);
  }).detach();
  if (agents) agents->stop();
  (*ctl)->stop();  // no new requests; in-flight ones finish against the running node
  (*n)->stop();
  if (failed)
    return report(stopped_by_store_failure("aqua serve", *failed), g.json);
  if (g.json)
    print_json({{"event", "stopped"}, {"signal", signal_name()}});
  else
    std::cout << "aqua: stopped cleanly on " << signal_name() << std::endl;
  return exit_ok;
}

void add_serve_command(CLI::App& app, global_options& g, int& rc) {
  auto config = std::make_shared<std::string>();
  auto* serve = app.add_subcommand("serve", "Run this node (from its YAML config) until SIGINT/SIGTERM");
  serve->add_option("--config", *config, "Node config (default: <data dir>/config.yaml)");
  serve->footer("Stops cleanly on SIGINT/SIGTERM (exit 0), also while it starts (a relay_v2 transport waits up to its\n"
                "listen_timeout_ms for the relay's reservation). Exits 1 if a store write fails (disk full, I/O error;\n"
                "the daemon's store or an agent's): that node takes no more writes then, and a restart resumes\n"
                "from its durable state (docs/storage.md). A stop that takes over 30 s (an agent handler that never\n"
                "returns) ends the process with exit 1; nothing acknowledged is lost.\n"
                "Examples:\n  aqua serve\n  aqua --dir /srv/agent serve --json\n"
                "  aqua serve --config /etc/aqua/node.yaml   # its node.data_dir (or its own dir) holds the identity");
  serve->callback([&g, &rc, config] { rc = run_daemon(g, *config, {}); });
}

} // namespace aqua::cli
