#include "control/doctor.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <set>

#include "aqua/multiaddr.hpp"
#include "control/control_json.hpp"

namespace aqua::control {
namespace {

// "/ip4/A/tcp/P..." -> (A, P); nullopt for anything else.
std::optional<std::pair<std::string, std::string>> ip4_tcp(const std::string& addr) {
  auto m = multiaddr::parse(addr);
  if (!m || !m->has("ip4")) return std::nullopt;
  return std::make_pair(m->value_of("ip4"), m->value_of("tcp"));
}

} // namespace

std::vector<std::string> local_ipv4_addresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (auto* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    char buf[INET_ADDRSTRLEN] = {};
    auto* sin = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) out.emplace_back(buf);
  }
  ::freeifaddrs(list);
  return out;
}

nat_guess guess_nat(const std::vector<std::string>& observed, const std::vector<std::string>& local_ips) {
  std::set<std::string> ips, ports;
  for (auto& o : observed)
    if (auto p = ip4_tcp(o)) {
      ips.insert(p->first);
      ports.insert(p->second);
    }
  if (ips.empty()) return {"unknown", "no relay reports the address it observes for us (no relay reservation yet?)"};
  std::string seen;
  for (auto& ip : ips) seen += (seen.empty() ? "" : ", ") + ip;
  bool all_local = std::all_of(ips.begin(), ips.end(), [&](const std::string& ip) {
    return std::find(local_ips.begin(), local_ips.end(), ip) != local_ips.end();
  });
  if (all_local) return {"public", "relays see " + seen + ", an address of this host: no NAT between us and them"};
  if (ips.size() > 1 || (observed.size() > 1 && ports.size() > 1))
    return {"symmetric_nat", "relays see different addresses/ports (" + seen +
                                 "): the NAT maps each destination apart, so direct connections from peers will not "
                                 "work; use relays"};
  return {"behind_nat", "relays see " + seen + ", not an address of this host: we are behind NAT; peers reach us "
                        "through our relays (circuit addresses in our card)"};
}

result<nlohmann::json> doctor_report(node& n, const std::optional<peer_id>& peer) {
  auto st = n.status();
  if (!st) return st.err();
  nlohmann::json out = to_json(*st);
  std::vector<std::string> observed;
  auto local = local_ipv4_addresses();
  for (auto& a : st->listen_addresses)
    if (auto p = ip4_tcp(a)) local.push_back(p->first);
  nlohmann::json relays = nlohmann::json::array();
  for (auto& t : st->transports)
    for (auto& [k, v] : t.details) {
      const std::string suffix = " observed_addr";
      if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0)
        observed.push_back(v);
      if (is_relay_state_key(k))
        relays.push_back({{"transport", t.name}, {"relay", k.substr(6)}, {"state", v}});
    }
  for (auto& r : relays) {
    auto prefix = "relay " + r["relay"].get<std::string>() + " ";
    for (auto& t : st->transports)
      for (auto& [k, v] : t.details)
        if (k.rfind(prefix, 0) == 0) {
          // Transports report text; a time in seconds is a number here, as every other time in the report.
          const auto field = k.substr(prefix.size());
          if (field.size() > 7 && field.compare(field.size() - 7, 7, "_unix_s") == 0 && !v.empty() &&
              v.find_first_not_of("0123456789") == std::string::npos && v.size() <= 19)
            r[field] = std::stoull(v);
          else
            r[field] = v;
        }
  }
  out["relays"] = relays;
  auto nat = guess_nat(observed, local);
  out["nat"] = {{"verdict", nat.verdict}, {"why", nat.why}, {"observed", observed}};
  if (peer && *peer == st->id)
    return error{errc::invalid_argument, "doctor: " + peer->str() + " is this node itself: give a peer's ID or alias"};
  if (peer) {
    auto d = n.diagnose_path(*peer);
    if (!d) return d.err();
    nlohmann::json addrs = nlohmann::json::array();
    for (auto& a : d->addresses)
      addrs.push_back({{"address", a.address}, {"kind", a.kind}, {"failures", a.failures},
                       {"retry_in_ms", a.retry_in_ms}, {"last_error", a.last_error}});
    out["path"] = {{"peer_id", peer->str()},         {"connected", d->connected},   {"connection", d->connection},
                   {"heard_ms_ago", d->heard_ms_ago}, {"unanswered_ms", d->unanswered_ms},
                   {"decision", d->decision},        {"last_path", d->last_path},   {"last_address", d->last_address},
                   {"addresses", addrs}};
  }
  return out;
}

} // namespace aqua::control
