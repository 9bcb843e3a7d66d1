// aqua relay serve: the daemon (aqua serve) with this node's circuit relay v2
// server switched on (docs/relay.md).

#include <memory>

#include "aqua/multiaddr.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace aqua::cli {
namespace {

result<void> check_listen(const std::vector<std::string>& addrs) {
  for (const auto& a : addrs) {
    auto ma = multiaddr::parse(a);
    if (!ma)  // the parser's reason (a port above 65535, a bad IPv4 address) says more than the expected form
      return error{errc::invalid_argument, "--listen: expected /ip4/A/tcp/P, got '" + a + "': " + ma.err().message()};
    if (ma->parts().size() != 2 || ma->parts()[0].protocol != "ip4" || ma->parts()[1].protocol != "tcp")
      return error{errc::invalid_argument, "--listen: expected /ip4/A/tcp/P, got '" + a + "'"};
  }
  return ok();
}

} // namespace

void add_relay_commands(CLI::App& app, global_options& g, int& rc) {
  auto* relay = app.add_subcommand("relay", "Circuit relay v2 (libp2p) for peers that cannot be reached directly");
  relay->require_subcommand(1);
  relay->footer("Examples:\n  aqua relay serve --listen /ip4/0.0.0.0/tcp/4001\n  aqua relay serve --help   # limits, addresses to hand out");
  struct opts {
    std::string config;
    std::vector<std::string> listen;
  };
  auto o = std::make_shared<opts>();
  auto* serve = relay->add_subcommand(
      "serve", "Run the daemon as a circuit relay v2 server (components.relay.serve forced on) until SIGINT/SIGTERM");
  serve->add_option("--config", o->config, "Node config (default: <data dir>/config.yaml)");
  serve->add_option("--listen", o->listen,
                    "Relay server address /ip4/A/tcp/P (repeatable; replaces components.relay.listen)");
  serve->footer(
      "Prints the relay's full addresses (/ip4/A/tcp/P/p2p/<relay peer id>): put one in another node's\n"
      "relay_v2 transport settings (relays). The relay sees only ciphertext. Limits: components.relay in the\n"
      "config, see docs/relay.md.\n"
      "Examples:\n"
      "  aqua relay serve --listen /ip4/0.0.0.0/tcp/4001\n"
      "  aqua relay serve --listen /ip4/127.0.0.1/tcp/4001 --listen /ip4/10.0.0.5/tcp/4001 --json\n"
      "  aqua relay serve --config relay.yaml");
  serve->callback([&g, &rc, o] {
    if (auto r = check_listen(o->listen); !r) {
      rc = report(r.err(), g.json);
      return;
    }
    daemon_overrides d;
    d.relay = true;
    d.relay_listen = o->listen;
    rc = run_daemon(g, o->config, d);
  });
}

} // namespace aqua::cli
