// aqua store check | repair

#include <iostream>
#include <optional>

#include "commands.hpp"
#include "identity/key_store.hpp"
#include "output.hpp"
#include "contacts/contact_store.hpp"
#include "core/terminal_text.hpp"
#include "delivery/record_check.hpp"
#include "store/engine_store.hpp"
#include "store/store.hpp"

namespace aqua::cli {
namespace {

constexpr std::size_t max_named = 20;  // records that do not decode, named one by one

int run_store(const global_options& g, const std::string& action) {
  auto at = paths_of(g);
  if (!at) return report(at.err(), g.json);
  const auto& dir = at->dir;
  auto path = at->data / store::dir_name;
  std::error_code ec;
  const bool there = std::filesystem::exists(path, ec);
  if (ec) return report(error{errc::io_error, "cannot read store '" + path.string() + "': " + ec.message()}, g.json);
  if (!there || (std::filesystem::is_directory(path, ec) && std::filesystem::is_empty(path, ec))) {
    // As every command that finds no data dir or no identity: exit 4 and what to do.
    if (!std::filesystem::exists(at->key_file, ec))
      return report(no_identity_in(dir, "so no store to " + action), g.json);
    return report(error{errc::not_found, (there ? "an empty store dir at '" : "no store at '") + path.string() +
                                             "': the node has not run yet ('aqua --dir " +
                                             dir.string() + " serve' creates it)"},
                  g.json);
  }
  std::optional<store::repair_outcome> repaired;
  if (action == "repair") {
    auto r = store::db::repair(path);
    if (!r) return report(r.err(), g.json);
    repaired = std::move(*r);
  }
  // After a repair the store was swapped already: a failing check says so, and where the one before is.
  auto failed = [&](const error& e) {
    if (!repaired) return report(e, g.json);
    return report(error{e.code(), e.message() + " (checking the repaired store; it is in place, and the store as it "
                                                "was before the repair is kept in " + repaired->kept.string() + ")"},
                  g.json);
  };
  auto db = store::db::open(path, false);
  if (!db) return failed(db.err());
  // Every key is read (LevelDB checks each block's CRC); the delivery and contact records are decoded too, since
  // one that does not decode is skipped by the node: its message is never handed out or retried.
  std::size_t keys = 0, unreadable = 0;
  nlohmann::json named = nlohmann::json::array();
  auto r = (*db)->scan("", [&](std::string_view k, std::string_view v) {
    ++keys;
    auto bad = delivery::check_record(k, as_bytes(v));
    if (!bad && k.starts_with("c/"))
      if (auto c = decode_contact_record(k, as_bytes(v)); !c) bad = c.err();
    if (bad && ++unreadable <= max_named)
      named.push_back({{"key", terminal_text(k)}, {"error", bad->what()}});
    return true;
  });
  if (!r) return failed(r.err());
  // A node refuses to start on E2EE state that does not load, is another identity's, or is missing beside sessions
  // or messages: the same decision (store::read_engine), compared with the key file when it reads.
  std::optional<peer_id> self;
  if (auto kp = read_identity(dir)) self = kp->id();
  auto stored = store::read_engine(**db, self, system_env());
  if (!stored) return failed(stored.err());
  const auto& engine_bad = stored->problem;
  if (engine_bad && ++unreadable <= max_named)
    named.push_back({{"key", stored->has_meta ? "e/meta + e/s/" : "e/s/"}, {"error", engine_bad->what() + " (the node will not start)"}});
  const bool ok = unreadable == 0;
  if (g.json) {
    nlohmann::json out{{"store", path.string()}, {"ok", ok}, {"repaired", action == "repair"}, {"keys", keys}};
    if (!ok) out["unreadable"] = {{"count", unreadable}, {"records", named}};
    if (repaired) {
      out["kept"] = repaired->kept.string();
      out["losses"] = repaired->losses;
      out["notes"] = repaired->notes;
    }
    print_json(out);
  } else {
    std::cout << path.string() << ": " << (action == "repair" ? "repaired, " : "");
    if (ok) std::cout << "OK, " << keys << " keys\n";
    else
      std::cout << keys << " keys, "
                << (engine_bad ? std::to_string(unreadable) + (unreadable == 1 ? " problem" : " problems") +
                                   " (the node skips a record that does not decode, and does not start on E2EE state "
                                   "that does not load):\n"
                               : std::to_string(unreadable) +
                                   (unreadable == 1 ? " record that does not decode (the node skips it):\n"
                                                    : " records that do not decode (the node skips them):\n"));
    for (auto& n : named) std::cout << "  " << n["key"].get<std::string>() << ": " << n["error"].get<std::string>() << "\n";
    if (unreadable > named.size()) std::cout << "  ... and " << unreadable - named.size() << " more\n";
    if (repaired && !repaired->losses.empty()) {
      std::cout << "what the repair could not read is not in the repaired store (the files are in "
                << (path / "lost").string() << "):\n";
      for (auto& l : repaired->losses) std::cout << "  " << terminal_text(l) << "\n";
    }
    if (repaired)
      for (auto& n : repaired->notes) std::cout << "note: " << terminal_text(n) << "\n";
    if (repaired)
      std::cout << "the store as it was before the repair is kept in " << repaired->kept.string()
                << " (delete it once the node runs well)\n";
  }
  return ok ? exit_ok : exit_failure;
}

} // namespace

void add_store_commands(CLI::App& app, global_options& g, int& rc) {
  auto* st = app.add_subcommand("store", "Check or repair the node's LevelDB store (stop the node first)");
  st->require_subcommand(1);
  st->footer("Examples:\n  aqua store check\n  aqua --dir /srv/agent store repair --json");
  for (auto [name, help, examples] :
       {command_doc{"check", "Open the store and read every key", "Examples:\n  aqua store check\n  aqua --dir /srv/agent store check --json"},
        command_doc{"repair", "Run LevelDB's repair on a copy of a corrupted store, swap it in, then check it",
            "Stop the node first (aqua serve holds the store's lock). The repair runs on a copy (it needs about twice\n"
            "the store's size free) that replaces the store only once it worked; the store as it was is kept beside\n"
            "it as store.before-repair-<UTC time>.\nExamples:\n  aqua store repair\n  aqua --dir /srv/agent store repair --json"}}) {
    std::string action = name;
    auto* cmd = st->add_subcommand(name, help);
    cmd->footer(examples);
    cmd->callback([&g, &rc, action] { rc = run_store(g, action); });
  }
}

} // namespace aqua::cli
