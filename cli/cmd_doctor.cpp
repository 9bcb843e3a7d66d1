// aqua doctor [PEER]: reachability report from the running daemon
// (control API "doctor", framework/src/control/doctor.cpp).

#include <iostream>

#include "commands.hpp"
#include "daemon_client.hpp"
#include "output.hpp"

namespace aqua::cli {
namespace {

std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void print_text(const nlohmann::json& r) {
  std::cout << "node: " << str(r, "name") << " " << str(r, "peer_id") << "\n";
  if (r["listen"].empty()) std::cout << "listening: nowhere (peers cannot dial us directly)\n";
  for (auto& a : r["listen"]) std::cout << "listening: " << a.get<std::string>() << "\n";
  if (r.contains("relay") && r["relay"].value("serving", false)) {  // this node is a relay itself
    std::cout << "relay server:";
    for (auto& a : r["relay"]["addresses"]) std::cout << " " << a.get<std::string>();
    std::cout << " (" << r["relay"].value("reservations", 0) << " reservations, " << r["relay"].value("circuits", 0)
              << " circuits)\n";
  }
  if (r["relays"].empty())
    std::cout << "relays used: none configured (a relay_v2 transport with 'relays' adds them)\n";
  for (auto& rl : r["relays"]) {
    std::cout << "relay " << str(rl, "relay") << ": " << str(rl, "state");
    if (!str(rl, "observed_addr").empty()) std::cout << ", sees us as " << str(rl, "observed_addr");
    if (!str(rl, "last_error").empty()) std::cout << " (last error: " << str(rl, "last_error") << ")";
    std::cout << "\n";
  }
  std::cout << "nat: " << str(r["nat"], "verdict") << " - " << str(r["nat"], "why") << "\n";
  std::cout << "connections: " << r["connections"] << ", outbox pending " << r["outbox_pending"]
            << ", deposited on relay mailboxes since start " << r["frames_deposited"] << "\n";
  if (!r.contains("path")) return;
  auto& p = r["path"];
  std::cout << "\npath to " << str(p, "peer_id") << ":\n  decision: " << str(p, "decision") << "\n";
  if (!str(p, "connection").empty()) {
    auto heard = p["heard_ms_ago"].get<std::int64_t>();
    std::cout << "  connection: " << str(p, "connection") << (p["connected"].get<bool>() ? "" : " (silent)")
              << ", last heard " << (heard < 0 ? std::string("never") : std::to_string(heard) + " ms ago");
    if (auto waiting = p["unanswered_ms"].get<std::int64_t>(); waiting > 0)
      std::cout << ", our oldest unanswered frame waits " << waiting << " ms";
    std::cout << "\n";
  }
  if (!str(p, "last_path").empty())
    std::cout << "  last used: " << str(p, "last_path") << " via " << str(p, "last_address") << "\n";
  if (p["addresses"].empty())
    std::cout << "  no addresses: no route names it and its card (if it is a contact: aqua contacts add) lists none; "
                 "a peer without an address of its own is reached over the connections it opens\n";
  for (auto& a : p["addresses"]) {
    std::cout << "  " << str(a, "kind") << "  " << str(a, "address");
    if (a["failures"].get<std::uint64_t>() > 0)
      std::cout << "  (" << a["failures"] << " failure(s), retry in " << a["retry_in_ms"] << " ms: "
                << str(a, "last_error") << ")";
    std::cout << "\n";
  }
}

} // namespace

void add_doctor_commands(CLI::App& app, global_options& g, int& rc) {
  auto peer = std::make_shared<std::string>();
  auto* doctor = app.add_subcommand("doctor", "Reachability report: listen addresses, relays, NAT guess, path to a peer");
  doctor->add_option("peer", *peer, "Peer ID or alias: also show the path routing takes to it and why")->check(non_empty());
  doctor->footer(
    "Needs the running daemon (aqua serve).\n"
    "Examples:\n  aqua doctor\n  aqua doctor bob\n  aqua doctor --json 12D3KooW...");
  doctor->callback([&g, &rc, peer] {
    auto d = connect_daemon(g);
    if (!d) {
      rc = report(d.err(), g.json);
      return;
    }
    nlohmann::json req{{"cmd", "doctor"}};
    if (!peer->empty()) req["peer"] = *peer;
    auto r = (*d)->call(req);
    if (!r) {
      rc = report(r.err(), g.json);
      return;
    }
    (*r)["running"] = true;  // as aqua status --json says it
    if (g.json) print_json(*r);
    else print_text(*r);
    rc = exit_ok;
  });
}

} // namespace aqua::cli
