// aqua plugin check NAME: find, load and self-test a transport plugin.

#include <atomic>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "output.hpp"
#include "node/transport_host.hpp"
#include "plugin/plugin_loader.hpp"

namespace aqua::cli {
namespace {

struct check_options {
  std::string name;
  std::vector<std::string> plugin_path;
  std::string listen;
};

struct collect : transport_observer {
  std::mutex m;
  std::shared_ptr<connection> last;
  void on_incoming(std::shared_ptr<connection> c) override {
    std::lock_guard<std::mutex> g(m);
    last = std::move(c);
  }
  std::shared_ptr<connection> get() {
    std::lock_guard<std::mutex> g(m);
    return last;
  }
};

// listen, dial ourselves, send three frames, expect them back in order.
result<void> self_test(transport& t, const std::string& listen) {
  auto obs = std::make_shared<collect>();
  // A throwaway identity: transports that authenticate (zmq) run their
  // handshake against themselves.
  t.start(obs, std::make_shared<node_transport_host>(keypair::generate(), system_env()));
  auto bound = t.listen(listen);
  if (!bound && bound.err().code() == errc::bad_address)  // the argument, not the plugin, is wrong: a usage error
    return error{errc::invalid_argument, "--listen '" + listen + "' is no address this plugin listens on: " +
                                           bound.err().message()};
  if (!bound) return bound.err();
  // relay_v2 goes on without a reservation it could not make in time (it keeps trying): nothing to test yet.
  const auto live = t.listen_addresses();
  if (std::find(live.begin(), live.end(), *bound) == live.end())
    return error{errc::timeout, "self-test: '" + listen + "' is not reachable yet (the plugin would listen at " +
                                  *bound + "; for relay_v2: no reservation on the relay, the warning above says why)"};
  auto c = t.dial(*bound);
  if (!c) return c.err();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  // would_block means "not yet" (a relay_v2 circuit opens after the dial returns, a queue drains): try again.
  auto send = [&](connection& to, const bytes& frame) -> result<void> {
    for (;;) {
      auto r = to.send(frame);
      if (r || r.err().code() != errc::would_block || std::chrono::steady_clock::now() >= deadline) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  // Some transports (zmq) only see a peer once its first frame arrives.
  for (std::uint8_t i = 0; i < 3; ++i)
    if (auto r = send(**c, bytes{i, 0xaa}); !r) return r.err();
  std::shared_ptr<connection> server;
  while (!(server = obs->get()) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!server) return error{errc::timeout, "self-test: no incoming connection after dialling " + *bound};
  for (std::uint8_t i = 0; i < 3; ++i) {
    std::optional<bytes> f;
    while (!(f = server->try_receive()) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!f) return error{errc::timeout, "self-test: frame " + std::to_string(i) + " never arrived"};
    if (*f != bytes{i, 0xaa}) return error{errc::bad_frame, "self-test: frame " + std::to_string(i) + " arrived changed or out of order"};
  }
  // and back, over the accepted side
  if (auto r = send(*server, bytes{0xbb}); !r) return r.err();
  std::optional<bytes> back;
  while (!(back = (*c)->try_receive()) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!back || *back != bytes{0xbb}) return error{errc::timeout, "self-test: reply over the accepted connection never arrived"};
  (*c)->close();
  t.stop();
  return ok();
}

int run_check(const global_options& g, const check_options& o) {
  std::vector<std::filesystem::path> dirs(o.plugin_path.begin(), o.plugin_path.end());
  plugin_loader loader(dirs);
  if (o.name.find('/') != std::string::npos || o.name.ends_with(".so"))
    return report(error{errc::invalid_argument, "'" + o.name + "': give the plugin's name (e.g. zmq for "
                                                "libaqua_transport_zmq.so), and its directory with --plugin-path DIR"},
                  g.json);
  auto file = loader.find(o.name);
  if (!file) {
    // An agent plugin of that name: this command checks transports; say how agents are checked.
    if (auto agent = loader.find_file("libaqua_agent_" + o.name + ".so", "agent plugin '" + o.name + "'"))
      return report(error{file.err().code(), file.err().message() + "\n" + agent->string() + " is an agent plugin: "
                                             "'aqua plugin check' checks transports; check an agent with 'aqua config "
                                             "check' on a config whose agents list names it (it loads the plugin and "
                                             "runs its factory with the settings)"},
                    g.json);
    return report(file.err(), g.json);
  }
  transport_config cfg;
  cfg.plugin = cfg.name = o.name;
  auto t = loader.load_transport(cfg);
  if (!t) return report(t.err(), g.json);
  std::string test_result = "skipped (pass --listen ADDR to run it)";
  if (!o.listen.empty()) {
    if (auto r = self_test(**t, o.listen); !r) return report(r.err(), g.json);
    test_result = "passed";
  }
  if (g.json)
    print_json({{"plugin", o.name}, {"file", file->string()}, {"abi_version", transport_abi_version}, {"self_test", test_result}});
  else
    std::cout << "plugin '" << o.name << "' OK: " << file->string() << " (transport ABI " << transport_abi_version
              << "); self-test " << test_result << "\n";
  return exit_ok;
}

} // namespace

void add_plugin_commands(CLI::App& app, global_options& g, int& rc) {
  auto opts = std::make_shared<check_options>();
  auto* plugin = app.add_subcommand("plugin", "Inspect transport plugins");
  plugin->require_subcommand(1);
  plugin->footer("Examples:\n  aqua plugin check zmq\n  aqua plugin check loopback --listen /memory/check --json");
  auto* check = plugin->add_subcommand("check", "Find and load a transport plugin, check its ABI, optionally self-test it");
  check->add_option("name", opts->name, "Plugin name (file libaqua_transport_<name>.so)")->required();
  check->add_option("--plugin-path", opts->plugin_path, "Dir searched first (repeatable); then $AQUA_PLUGIN_PATH, install dir");
  check->add_option("--listen", opts->listen, "Address for a loop self-test (listen, dial, 3 frames), e.g. /memory/check");
  check->footer("Examples:\n  aqua plugin check loopback --listen /memory/check\n  aqua plugin check mytransport --plugin-path ./build --json");
  check->callback([&g, &rc, opts] { rc = run_check(g, *opts); });
}

} // namespace aqua::cli
