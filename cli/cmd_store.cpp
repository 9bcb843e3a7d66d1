// aqua store check | repair

#include <iostream>

#include "commands.hpp"
#include "identity/key_store.hpp"
#include "output.hpp"
#include "store/store.hpp"

namespace aqua::cli {
namespace {

int run_store(const global_options& g, const std::string& action) {
  auto dir = resolve_data_dir(g.dir);
  if (!dir) return report(dir.err(), g.json);
  auto path = *dir / store::dir_name;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    // As every command that finds no data dir or no identity: exit 4 and what to do.
    if (!std::filesystem::exists(*dir / key_file_name, ec))
      return report(no_identity_in(*dir, "so no store to " + action), g.json);
    return report(error{errc::not_found, "no store at '" + path.string() + "': the node has not run yet ('aqua --dir " +
                                             dir->string() + " serve' creates it)"},
                  g.json);
  }
  if (action == "repair") {
    if (auto r = store::db::repair(path); !r) return report(r.err(), g.json);
  }
  auto db = store::db::open(path, false);
  if (!db) return report(db.err(), g.json);
  std::size_t keys = 0;
  if (auto r = (*db)->scan("", [&](std::string_view, std::string_view) { return ++keys, true; }); !r)
    return report(r.err(), g.json);
  if (g.json)
    print_json({{"store", path.string()}, {"ok", true}, {"repaired", action == "repair"}, {"keys", keys}});
  else
    std::cout << path.string() << ": " << (action == "repair" ? "repaired, " : "") << "OK, " << keys << " keys\n";
  return exit_ok;
}

} // namespace

void add_store_commands(CLI::App& app, global_options& g, int& rc) {
  auto* st = app.add_subcommand("store", "Check or repair the node's LevelDB store (stop the node first)");
  st->require_subcommand(1);
  st->footer("Examples:\n  aqua store check\n  aqua --dir /srv/agent store repair --json");
  for (auto [name, help, examples] :
       {command_doc{"check", "Open the store and read every key", "Examples:\n  aqua store check\n  aqua --dir /srv/agent store check --json"},
        command_doc{"repair", "Run LevelDB's repair on a corrupted store, then check it",
            "Stop the node first (aqua serve holds the store's lock).\nExamples:\n  aqua store repair\n  aqua --dir /srv/agent store repair --json"}}) {
    std::string action = name;
    auto* cmd = st->add_subcommand(name, help);
    cmd->footer(examples);
    cmd->callback([&g, &rc, action] { rc = run_store(g, action); });
  }
}

} // namespace aqua::cli
