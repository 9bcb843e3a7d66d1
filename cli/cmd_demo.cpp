// aqua demo: the multi-agent workflow on this host (docs/agents.md).
// One process: a daemon identity ("you") and five agent plugins, each with
// its own identity, E2EE state and store, talking over the loopback
// transport: you -> orchestrator -> research -> (news, data) -> writer.
// Prints who asked whom, peer IDs, transport, encryption and timings, then
// the report the writer wrote.

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>

#include "agent_trace.hpp"
#include "aqua/agent.hpp"
#include "aqua/node.hpp"
#include "commands.hpp"
#include "identity/key_store.hpp"
#include "output.hpp"

#ifndef AQUA_SOURCE_DATA_DIR
#define AQUA_SOURCE_DATA_DIR ""
#endif

namespace aqua::cli {
namespace {

// The bundled sample data: $AQUA_DEMO_DATA, <bin>/../share/aqua/demo, the source tree.
fs::path demo_data_dir() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("AQUA_DEMO_DATA")) candidates.emplace_back(env);
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "share" / "aqua" / "demo");
  candidates.emplace_back(AQUA_SOURCE_DATA_DIR);
  for (auto& c : candidates)
    if (!c.empty() && fs::is_regular_file(c / "ev_prices.csv", ec)) return c;
  return {};
}

// The first line of every config the demo writes: a --work-dir holding a config without it is someone's node.
constexpr std::string_view demo_marker = "# written by 'aqua demo'; rewritten by each run\n";

std::string demo_yaml(const fs::path& data, const fs::path& report, const std::string& listen) {
  return std::string(demo_marker) + "node: {name: you, log_level: warn}\n"
         "components: {}\n"
         "transports:\n  - plugin: loopback\n    listen: [" + listen + "]\n"
         "agents:\n"
         "  - {plugin: orchestrator, name: orchestrator}\n"
         "  - {plugin: research, name: research}\n"
         "  - {plugin: news, name: news, settings: {headlines: \"" + (data / "headlines.txt").string() + "\"}}\n"
         "  - {plugin: data, name: data, settings: {csv: \"" + (data / "ev_prices.csv").string() + "\"}}\n"
         "  - {plugin: writer, name: writer, settings: {output: \"" + report.string() + "\"}}\n";
}

int run_demo(const global_options& g, const std::string& work_dir, const std::string& topic) {
  bool keep = !work_dir.empty();
  fs::path base = keep ? fs::path(work_dir) : fs::temp_directory_path() / ("aqua-demo-" + std::to_string(::getpid()));
  auto say = [&](const std::string& line) { if (!g.json) std::cout << line << std::endl; };
  auto data = demo_data_dir();
  if (data.empty())
    return report(error{errc::not_found, "demo data (ev_prices.csv, headlines.txt) not found; set AQUA_DEMO_DATA"}, g.json);
  if (keep) {  // a node's data dir (aqua init) is not the demo's to rewrite: its config and identity stay
    std::error_code ec;
    const auto config = base / config_file_name;
    const bool has_config = fs::exists(config, ec);
    std::string head;
    if (has_config) {
      std::ifstream in(config);
      head.resize(demo_marker.size());
      in.read(head.data(), static_cast<std::streamsize>(head.size()));
      head.resize(static_cast<std::size_t>(in.gcount()));
    }
    if ((has_config || fs::exists(base / key_file_name, ec)) && head != demo_marker)
      return report(error{errc::invalid_argument,
                          "--work-dir " + base.string() + " holds a node (" +
                            (has_config ? config_file_name : key_file_name) +
                            " not written by 'aqua demo'); the demo would replace its config: give a new directory"},
                    g.json);
  }
  if (auto r = ensure_private_dir(base); !r) return report(r.err(), g.json);
  auto key = base / key_file_name;
  if (!fs::exists(key))
    if (auto r = write_key_file(key, keypair::generate(), false); !r) return report(r.err(), g.json);
  auto report_file = base / "report.md";
  auto text = demo_yaml(data, report_file, "/memory/aqua-demo-you-" + std::to_string(::getpid()));
  if (auto r = write_file_atomic(base / config_file_name, text, 0600); !r) return report(r.err(), g.json);
  auto cfg = load_config(base / config_file_name);
  if (!cfg) return report(cfg.err(), g.json);

  say("== aqua demo: a multi-agent workflow, end-to-end encrypted on every hop ==");
  say(keep ? "config " + (base / config_file_name).string() + "; sample data from " + data.string()
            : "sample data from " + data.string() + " (config, stores and report in a temporary dir, deleted at exit; "
              "--work-dir DIR keeps them)");
  auto you = node::start(*cfg);
  if (!you) return report(you.err(), g.json);
  nlohmann::json events = nlohmann::json::array();
  agent_host::options opts;
  opts.daemon = you->get();
  opts.on_event = [&](const agent_event& e) {
    if (g.json) events.push_back(agent_event_json(e));
    else if (e.kind != "started") std::cout << format_agent_event(e) << std::endl;
  };
  auto host = agent_host::start(*cfg, opts);
  if (!host) return report(host.err(), g.json);
  say("");
  say(std::string("agents (each a CAF actor with its own Ed25519 identity, E2EE state and store") +
      (keep ? " under " + (base / "agents").string() : "") + "):");
  say("  you           " + (*you)->id().str() + "  (this process's daemon identity)");
  nlohmann::json agents = nlohmann::json::array();
  for (auto& a : (*host)->agents()) {
    say("  " + a.name + std::string(a.name.size() < 13 ? 13 - a.name.size() : 1, ' ') + " " + a.id.str() +
        "  plugin libaqua_agent_" + a.plugin + ".so");
    agents.push_back({{"name", a.name}, {"plugin", a.plugin}, {"peer_id", a.id.str()}, {"listen", a.listen}});
  }
  say("path: loopback transport plugin (/memory/<peer ID>, in process, no sockets); every message sealed by the");
  say("sender's E2EE engine (X3DH from the card, double ratchet, ChaCha20-Poly1305) and opened by the recipient's;");
  say("cards exchanged automatically between co-hosted agents (trust: verified by the daemon config).");
  say("");
  say("flow (time since start, who asked whom, payload size, path, round trip):");
  auto t0 = std::chrono::steady_clock::now();
  auto done = (*host)->request_as("you", "orchestrator", agent_payload::text("workflow.run", topic), std::chrono::seconds(60));
  double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  auto stats = (*host)->counters();
  (*host)->stop();
  (*you)->stop();
  if (!done) return report(done.err(), g.json);
  std::ifstream in(report_file);
  std::string md{std::istreambuf_iterator<char>(in), {}};
  if (g.json) {
    // The orchestrator's answer is JSON text: embedded as JSON (a string only if it is not). Without --work-dir
    // the files are gone when this returns: no paths to them.
    auto result = nlohmann::json::parse(done->payload.text(), nullptr, false);
    if (result.is_discarded()) result = done->payload.text();
    if (!keep && result.is_object()) result.erase("path");  // the writer's file, deleted below
    print_json({{"you", (*you)->id().str()}, {"agents", agents}, {"events", events}, {"result", result},
                {"report_path", keep ? nlohmann::json(report_file.string()) : nlohmann::json()}, {"report", md},
                {"total_ms", total_ms}, {"requests_served", stats.requests_served}, {"timeouts", stats.timeouts},
                {"dir", keep ? nlohmann::json(base.string()) : nlohmann::json()}, {"kept", keep}});
  } else {
    say("");
    say("workflow done in " + std::to_string(total_ms).substr(0, 6) + " ms: " + std::to_string(stats.requests_served) +
        " requests served, " + std::to_string(stats.timeouts) + " timeouts");
    say(keep ? "report (" + report_file.string() + "):" : "report (its files are deleted at exit; --work-dir DIR keeps them):");
    say("----------------------------------------------------------------------");
    std::cout << terminal_text(md, true);  // the report quotes the topic and the headlines
    say("----------------------------------------------------------------------");
  }
  if (!keep) {
    std::error_code ec;
    fs::remove_all(base, ec);
  }
  return exit_ok;
}

} // namespace

void add_demo_command(CLI::App& app, global_options& g, int& rc) {
  auto dir = std::make_shared<std::string>();
  auto topic = std::make_shared<std::string>("electric vehicle prices");
  auto* demo = app.add_subcommand("demo", "Run the demo: five agents (plugins) produce a report, end-to-end encrypted");
  demo->add_option("--work-dir", *dir, "Keep the demo's data dirs and report here (default: a temp dir, removed afterwards)");
  demo->add_option("--topic", *topic, "The report's topic (default: electric vehicle prices)");
  demo->footer("Examples:\n  aqua demo\n  aqua demo --json --work-dir /tmp/aqua-demo\n"
               "  aqua --dir /tmp/aqua-demo-local init   # once: the identity of the daemon below\n"
               "  aqua serve --config configs/demo-local.yaml   # the same agents in a daemon");
  demo->callback([&g, &rc, dir, topic] { rc = run_demo(g, *dir, *topic); });
}

} // namespace aqua::cli
