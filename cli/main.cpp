// aqua: the command-line interface. See `aqua --help`.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <iostream>
#include <optional>
#include <string_view>

#include "commands.hpp"
#include "output.hpp"

namespace {

// "aqua bogus" / "aqua inbox bogus": CLI11 says only "A subcommand is
// required"; name the word it did not know and the commands it knows there.
std::optional<std::string> unknown_command(CLI::App& app) {
  CLI::App* at = &app;  // the deepest (sub)command given
  std::string path = "aqua";
  while (!at->get_subcommands().empty()) {
    at = at->get_subcommands().front();
    path += " " + at->get_name();
  }
  auto rest = app.remaining(true);  // what no (sub)command took, wherever it sat
  if (rest.empty() || rest.front().empty() || rest.front()[0] == '-' || at->get_subcommands({}).empty()) return std::nullopt;
  std::string known;
  for (auto* sub : at->get_subcommands({})) known += (known.empty() ? "" : ", ") + sub->get_name();
  return "unknown command '" + rest.front() + "' for '" + path + "' (it knows: " + known + ")";
}

constexpr const char* exit_codes =
  "Exit codes: 0 ok, 1 operation failed (e.g. a missing file, a conflict with what is stored),\n"
  "2 bad usage, 3 invalid or unreadable config, 4 identity/key problem (or none yet: run 'aqua init'; or a config others may write to),\n"
  "5 no daemon running (start one with 'aqua serve'), 6 timed out waiting.";

// Every subcommand's --help ends with the exit codes, so a script author
// reading `aqua send --help` need not know that `aqua --help` lists them.
void add_exit_codes(CLI::App& app) {
  for (auto* sub : app.get_subcommands({})) {
    const auto footer = sub->get_footer();
    sub->footer(footer.empty() ? exit_codes : footer + "\n\n" + exit_codes);
    add_exit_codes(*sub);
  }
}

} // namespace

int main(int argc, char** argv) {
  using namespace aqua::cli;
  ::umask(077);  // everything aqua writes (keys, store, contacts) is private to its user
  CLI::App app{std::string("aqua - TCP/IP for AI agents: identities, verified handshakes and end-to-end encrypted messages.\n\n") +
               exit_codes + " See README.md."};
  constexpr const char* version = "0.1.0";
  app.set_version_flag("--version", std::string("aqua ") + version);
  app.require_subcommand(1);
  app.fallthrough(true);  // global flags may follow the subcommand: aqua id --json
  global_options g;
  app.add_option("--dir", g.dir, "Data dir (default: $AQUA_DIR, else ~/.aqua)")->envname("AQUA_DIR");
  app.add_flag("--json", g.json, "Machine-readable JSON output (errors too)");
  app.add_option("--log-level", g.log_level, "trace|debug|info|warn|error|off")
    ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.footer("Examples:\n  aqua init\n  aqua id --json\n  aqua serve &\n  aqua send 12D3KooW... \"hello\"\n  aqua inbox list --unread\n  aqua config check configs/node.example.yaml\n  aqua demo");
  int rc = exit_ok;
  add_identity_commands(app, g, rc);
  add_config_commands(app, g, rc);
  add_demo_command(app, g, rc);
  add_plugin_commands(app, g, rc);
  add_contact_commands(app, g, rc);
  add_store_commands(app, g, rc);
  add_serve_command(app, g, rc);
  add_inbox_commands(app, g, rc);
  add_outbox_commands(app, g, rc);
  add_send_commands(app, g, rc);
  add_relay_commands(app, g, rc);
  add_doctor_commands(app, g, rc);
  add_exit_codes(app);
  // Logs go to stderr: stdout carries results (and NDJSON events with --json).
  spdlog::set_default_logger(spdlog::stderr_color_mt("aqua"));
  app.parse_complete_callback(
    [&] { spdlog::set_level(spdlog::level::from_str(g.log_level.empty() ? "warn" : g.log_level)); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    for (int i = 1; i < argc && std::string_view(argv[i]) != "--"; ++i)
      if (std::string_view(argv[i]) == "--json") {
        print_json({{"name", "aqua"}, {"version", version}});
        return exit_ok;
      }
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // --json promises JSON errors too; the flag may sit after the bad part, unparsed.
    bool json = g.json;
    for (int i = 1; i < argc && std::string_view(argv[i]) != "--"; ++i) json = json || std::string_view(argv[i]) == "--json";
    const auto what = unknown_command(app).value_or(e.what());
    // The help of the (sub)command being parsed, not the top level's: 'aqua inbox watch --help'.
    std::string command = "aqua";
    for (const CLI::App* cur = &app; !cur->get_subcommands().empty();) {
      cur = cur->get_subcommands().front();
      command += " " + cur->get_name();
    }
    if (json) return report(aqua::error{aqua::errc::invalid_argument, what + " (see '" + command + " --help')"}, true);
    std::cerr << "aqua: error: " << what << "\nRun '" << command << " --help' for usage.\n";
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "aqua: error: " << e.what() << "\n";
    return exit_failure;
  }
  return rc;
}
