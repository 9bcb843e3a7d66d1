// agent_host: starts every configured agent as a lightweight node of its own
// (own key, store, E2EE state under <data_dir>/agents/<name>/) reachable over
// the loopback transport at /memory/<peer ID>, wires co-hosted agents (routes
// and verified cards), the daemon node and the agent directory, then spawns
// one CAF actor per agent (agent_runtime.cpp). docs/agents.md.

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "agent/agent_directory.hpp"
#include "agent/agent_runtime.hpp"
#include "agent/agent_transports.hpp"
#include "aqua/agent.hpp"
#include "identity/key_store.hpp"
#include "node/actor_runtime.hpp"

namespace aqua {

namespace fs = std::filesystem;
using namespace agents;

struct agent_host::impl {
  node_config cfg;
  options opts;
  host_shared shared;
  // The agents' actors and their nodes' actors: one system for the host (node/actor_runtime.hpp).
  std::shared_ptr<node_detail::actor_runtime> actors;
  std::vector<std::unique_ptr<runtime>> runtimes;
  std::vector<std::string> plugins;
  std::unique_ptr<requester> daemon_requester;
  std::mutex dir_mutex;
  std::map<std::string, std::string> dir_cards;  // directory name -> card text already wired
  std::map<std::string, std::string> dir_ids;    // directory name -> the peer ID it was first seen with
  std::map<std::string, std::string> published;  // our names -> the card text in the directory (renewals republish)
  std::set<std::string> dir_warned;              // what the rescans warned about once
  std::atomic<bool> running{false};
  std::thread dir_thread, daemon_pump;
  bool stopped = false;

  void refresh_directory();
  void pump_daemon();
  runtime* find(const std::string& name) {
    for (auto& r : runtimes)
      if (r->name() == name) return r.get();
    return nullptr;
  }
};

namespace {

result<peer_id> ensure_key(const fs::path& dir) {
  if (auto r = ensure_private_dir(dir); !r) return r.err();
  auto file = dir / key_file_name;
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    // A store without its key belongs to an identity that is gone: a new key beside it could never start (and
    // would stay behind, so every later start failed the same way).
    if (fs::exists(dir / "store", ec))
      return error{errc::no_identity, "agent dir '" + dir.string() + "' has a store but no identity key (" + file.string() +
                                          "): restore the key, or move the dir aside to start the agent with a new identity"};
    auto kp = keypair::generate();
    if (auto r = write_key_file(file, kp, false); !r) return r.err();
  }
  auto kp = read_key_file(file);
  if (!kp) return kp.err();
  return kp->id();
}

std::string daemon_address(const node& d) {
  auto addrs = d.listen_addresses();
  for (auto& a : addrs)
    if (a.rfind("/memory/", 0) == 0) return a;
  return addrs.empty() ? std::string() : addrs.front();
}

} // namespace

namespace agents {

std::uint64_t last_sequence(node& n) {
  // watch(s, 1) holds the first message above s, if any: probe with it, doubling the step, then bisect. Each
  // probe loads one message, O(log n) of them; an error counts as "none above" (a lower start only costs a scan).
  auto above = [&n](std::uint64_t s) -> std::optional<std::uint64_t> {
    auto b = n.watch(s, 1, std::chrono::milliseconds(0));
    if (!b || b->empty()) return std::nullopt;
    return b->front().sequence;
  };
  auto first = above(0);
  if (!first) return 0;
  std::uint64_t lo = *first, hi = 0;  // a message at lo; none above hi
  for (std::uint64_t step = 1;; step *= 2) {
    if (step > UINT64_MAX - lo) {
      hi = UINT64_MAX;
      break;
    }
    auto x = above(lo + step);
    if (!x) {
      hi = lo + step;
      break;
    }
    lo = *x;
  }
  while (lo < hi) {
    auto mid = lo + (hi - lo) / 2;
    if (auto x = above(mid)) lo = *x;
    else hi = mid;
  }
  return lo;
}

} // namespace agents

agent_host::agent_host(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
agent_host::~agent_host() { stop(); }

result<std::vector<std::shared_ptr<agent>>> agent_host::load(const node_config& cfg) {
  // A directory others could write to is refused here, before a daemon says it serves (and by config check).
  if (!cfg.agent_directory.path.empty())
    if (auto r = check_directory(cfg.agent_directory.path); !r) return r.err();
  std::vector<std::shared_ptr<agent>> made;
  for (std::size_t i = 0; i < cfg.agents.size(); ++i) {
    auto& a = cfg.agents[i];
    auto loaded = load_agent_plugin(cfg.plugin_path, a);
    if (!loaded) return located_error(cfg, "agents[" + std::to_string(i) + "]", a.settings, loaded.err());
    made.push_back(std::move(*loaded));
  }
  return made;
}

result<std::unique_ptr<agent_host>> agent_host::start(const node_config& cfg, options opts) {
  auto made = load(cfg);
  if (!made) return made.err();
  return start_with(cfg, std::move(*made), std::move(opts));
}

result<std::unique_ptr<agent_host>> agent_host::start_with(const node_config& cfg,
                                                           std::vector<std::shared_ptr<agent>> made, options opts) {
  if (made.size() != cfg.agents.size())
    return error{errc::invalid_argument, "agent_host: " + std::to_string(made.size()) + " agents for " +
                                             std::to_string(cfg.agents.size()) + " config entries"};
  auto p = std::make_unique<impl>();
  p->cfg = cfg;
  p->opts = std::move(opts);
  p->shared.on_event = p->opts.on_event;
  node* daemon = p->opts.daemon;
  const auto& dir = cfg.agent_directory;

  if (!dir.path.empty())
    if (auto r = prepare_directory(dir.path); !r) return r.err();
  // 1. Identities, created on first start.
  std::set<std::string> local_names;
  std::vector<peer_id> ids;
  for (auto& a : cfg.agents) {
    auto id = ensure_key(cfg.data_dir / "agents" / a.name);
    if (!id) return error{id.err().code(), "agent '" + a.name + "': " + id.err().message()};
    ids.push_back(*id);
    local_names.insert(a.name);
  }
  // 2. One node per agent, with routes to the co-hosted agents, the daemon and the directory's agents whose
  //    cards are there already (one published later is reached at its card's addresses once it is a contact).
  std::vector<std::unique_ptr<node>> nodes;
  // One actor system for every agent node and the agents' actors: a node of its own would bring a scheduler, a
  // clock and a timer thread per agent (docs/agents.md, "Threads").
  p->actors = node_detail::make_actor_runtime(
    std::max<std::uint32_t>(2, node_worker_threads(cfg.worker_threads, std::thread::hardware_concurrency())));
  const auto early = dir.path.empty() ? std::vector<directory_entry>() : scan_directory(dir.path, &p->dir_warned);
  for (std::size_t i = 0; i < cfg.agents.size(); ++i) {
    auto nc = agents::agent_node_config(cfg, cfg.agents[i], ids[i]);
    for (std::size_t j = 0; j < ids.size(); ++j)
      if (j != i) nc.routing.routes.push_back({ids[j], "/memory/" + ids[j].str()});
    if (daemon && !daemon_address(*daemon).empty()) nc.routing.routes.push_back({daemon->id(), daemon_address(*daemon)});
    for (auto& e : early)
      if (!local_names.count(e.name) && !remote_address(e.verified).empty() && !(daemon && e.verified.id() == daemon->id()))
        nc.routing.routes.push_back({e.verified.id(), remote_address(e.verified)});
    auto n = node_detail::starter::start(nc, p->actors);
    if (!n) {
      // The store's hints ("run 'aqua store repair'") mean the agent's own store, a data dir of its own.
      const auto c = n.err().code();
      const bool store = c == errc::store_corrupt || c == errc::io_error || c == errc::bad_session_state;
      return error{c, "agent '" + cfg.agents[i].name + "': " + n.err().message() +
                        (store ? " (this agent's store: 'aqua --dir " + nc.data_dir.string() + " store check|repair')"
                               : std::string())};
    }
    nodes.push_back(std::move(*n));
  }
  // 3. Publish our cards for the other daemons, then wait for the cards of the agents we must reach: in this
  //    order, two daemons that require each other's agents (or a daemon requiring its own) both get going.
  std::vector<directory_entry> remote;
  if (!dir.path.empty()) {
    // A card there under one of our names but another identity: an agent (or daemon) of that name elsewhere,
    // or one whose data dir was replaced. Ours takes the name; say so, since the other one loses its requests.
    auto publish = [&](const std::string& name, const node& n) -> result<void> {
      for (auto& e : early)
        if (e.name == name && !(e.verified.id() == n.id()))
          spdlog::warn("agent_directory: {}.card named {}; it now names {} (this daemon's '{}'). If another daemon "
                       "runs an agent '{}', the two clash: give one of them another name",
                       name, e.verified.id().str(), n.id().str(), name, name);
      auto text = n.card();
      if (auto r = publish_card(dir.path, name, text); !r) return r;
      p->published[name] = std::move(text);
      return ok();
    };
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (auto r = publish(cfg.agents[i].name, *nodes[i]); !r) return r.err();
    if (daemon)
      if (auto r = publish(daemon->config().name, *daemon); !r) return r.err();
    std::set<std::string> missing(dir.require.begin(), dir.require.end());
    for (auto& name : local_names) missing.erase(name);  // ours, just published
    if (daemon) missing.erase(daemon->config().name);
    remote = early;  // the scan made at start serves unless a required card is still to come
    for (std::uint32_t i = 0;; ++i) {
      for (auto& e : remote) missing.erase(e.name);
      if (missing.empty() || i >= dir.wait_s * 10) break;
      if (p->opts.cancelled && p->opts.cancelled())
        return error{errc::not_running, "agent_directory: stopped while waiting for the cards of required agents"};
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      remote = scan_directory(dir.path, &p->dir_warned);
    }
    if (!missing.empty()) {
      std::string names;
      for (auto& m : missing) names += (names.empty() ? "" : ", ") + m;
      return error{errc::timeout, "agent_directory " + dir.path.string() + ": no card for " + names + " after " +
                                      std::to_string(dir.wait_s) + " s (start the daemon that runs them first)"};
    }
  }
  // 4. Cards: every agent knows the others, the daemon and the directory's agents.
  std::vector<std::pair<std::string, std::string>> cards;
  for (std::size_t i = 0; i < nodes.size(); ++i) cards.emplace_back(cfg.agents[i].name, nodes[i]->card());
  if (daemon) cards.emplace_back(daemon->config().name, daemon->card());
  for (auto& e : remote)
    if (!local_names.count(e.name) && !(daemon && e.verified.id() == daemon->id())) {
      cards.emplace_back(e.name, e.card_text);
      p->dir_cards[e.name] = e.card_text;
      p->dir_ids[e.name] = e.verified.id().str();
    }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::vector<std::pair<std::string, std::string>> others;
    for (std::size_t j = 0; j < cards.size(); ++j)
      if (j != i) others.push_back(cards[j]);
    if (auto r = add_trusted_contacts(*nodes[i], others); !r)
      return error{r.err().code(), "agent '" + cfg.agents[i].name + "': contacts: " + r.err().message()};
  }
  if (daemon) {
    std::vector<std::pair<std::string, std::string>> others;
    for (auto& c : cards)
      if (c.first != daemon->config().name || c.second != daemon->card()) others.push_back(c);
    if (auto r = add_trusted_contacts(*daemon, others); !r) return r.err();
  }
  for (auto& [name, card] : cards) {
    auto raw = e2ee::card_from_text(card);
    auto v = raw ? e2ee::verify_card(*raw, system_env()->now_unix_ms()) : result<e2ee::contact_card>(raw.err());
    if (v) p->shared.add_name(name, v->id());
  }
  // 5. Actors: one detached actor per agent, in the system the agents' nodes run in.
  auto config_dir = cfg.source.has_parent_path() ? fs::absolute(cfg.source).parent_path() : fs::current_path();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    p->runtimes.push_back(std::make_unique<runtime>(p->shared, cfg.agents[i], config_dir, made[i], std::move(nodes[i])));
    p->plugins.push_back(cfg.agents[i].plugin);
  }
  auto* raw = p.get();
  p->running = true;
  if (!dir.path.empty()) {
    p->shared.refresh = [raw] { raw->refresh_directory(); };
    p->dir_thread = std::thread([raw] {
      for (unsigned tick = 0; raw->running; ++tick) {  // bounded by `running`
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (tick % 10 == 9) raw->refresh_directory();
      }
    });
  }
  if (daemon) {
    p->daemon_requester = std::make_unique<requester>(p->shared, *daemon, daemon->config().name);
    p->daemon_pump = std::thread([raw] { raw->pump_daemon(); });
  }
  for (auto& r : p->runtimes) {
    p->shared.emit({0, 0, "started", r->name(), {}, r->id(), {}, {}, {}, {}, 0, 0, r->config().plugin});
    r->launch(p->actors->system.get());
  }
  return std::unique_ptr<agent_host>(new agent_host(std::move(p)));
}

void agent_host::impl::refresh_directory() {
  std::lock_guard lock(dir_mutex);
  const auto& path = cfg.agent_directory.path;
  if (auto safe = prepare_directory(path); !safe) {  // its mode or owner changed since the start
    if (dir_warned.insert("unsafe|" + safe.err().message()).second)
      spdlog::error("{}; not reading it until that is fixed", safe.err().what());
    return;
  }
  // Our cards renewed since they were published (node/card_keeper.cpp): the others pick the new text up here.
  auto republish = [&](const std::string& name, const node& n) {
    auto text = n.card();
    auto it = published.find(name);
    if (it == published.end() || it->second == text) return;
    if (auto r = publish_card(path, name, text); !r) {
      if (dir_warned.insert("publish|" + name + "|" + r.err().message()).second)
        spdlog::warn("agent_directory: the renewed card of '{}' could not be published: {}", name, r.err().what());
      return;
    }
    it->second = std::move(text);
    spdlog::info("agent_directory: published the renewed card of '{}'", name);
  };
  for (auto& r : runtimes) republish(r->name(), r->get_node());
  if (opts.daemon) republish(opts.daemon->config().name, *opts.daemon);
  auto entries = scan_directory(path, &dir_warned);
  std::vector<std::pair<std::string, std::string>> fresh;
  for (auto& e : entries) {
    if (find(e.name) || (opts.daemon && e.verified.id() == opts.daemon->id())) continue;
    if (auto it = dir_cards.find(e.name); it != dir_cards.end() && it->second == e.card_text) continue;
    // A name stays with the identity it was first seen with: a card under that name signed by another identity
    // (a replaced file) is refused, or it would receive the requests meant for the agent.
    const auto id = e.verified.id().str();
    if (auto known = dir_ids.find(e.name); known != dir_ids.end() && known->second != id) {
      if (dir_warned.insert("name|" + e.name + "|" + id).second)
        spdlog::error("agent_directory: {}.card now names {}, but '{}' is {}: refused (a new identity for an agent "
                      "needs a restart of this daemon)",
                      e.name, id, e.name, known->second);
      continue;
    }
    dir_ids[e.name] = id;
    dir_cards[e.name] = e.card_text;
    shared.add_name(e.name, e.verified.id());
    fresh.emplace_back(e.name, e.card_text);
  }
  if (fresh.empty()) return;
  for (auto& r : runtimes)
    if (auto res = add_trusted_contacts(r->get_node(), fresh); !res)
      spdlog::warn("agent {}: cannot add directory cards: {}", r->name(), res.err().what());
  if (opts.daemon)
    if (auto res = add_trusted_contacts(*opts.daemon, fresh); !res)
      spdlog::warn("daemon: cannot add directory cards: {}", res.err().what());
}

// Replies to requests made in the daemon's name: watched (not consumed), so
// the control API keeps every message for its own clients. Only messages
// after the newest at start can answer them; batches stay small (a message
// may be as large as crypto.max_frame_bytes).
void agent_host::impl::pump_daemon() {
  std::uint64_t after = last_sequence(*opts.daemon);
  while (running) {  // each watch waits at most 200 ms
    auto batch = opts.daemon->watch(after, 16, std::chrono::milliseconds(200));
    if (!batch) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    for (auto& m : *batch) {
      after = std::max(after, m.sequence);
      if (m.topic != agent_topic) continue;
      auto f = decode(m.payload);
      if (f && (f->kind == frame_kind::reply || f->kind == frame_kind::error)) daemon_requester->complete(m, *f);
    }
  }
}

std::vector<agent_host::agent_info> agent_host::agents() const {
  std::vector<agent_info> out;
  for (std::size_t i = 0; i < impl_->runtimes.size(); ++i) {
    auto& r = impl_->runtimes[i];
    out.push_back({r->name(), impl_->plugins[i], r->id(), r->get_node().listen_addresses(), r->get_node().card()});
  }
  return out;
}

agent_host::stats agent_host::counters() const {
  auto& s = impl_->shared;
  return {s.served.load(), s.replies.load(), s.late.load(), s.timeouts.load(), s.rejected.load()};
}

result<agent_reply> agent_host::request_as(const std::string& from, const std::string& to, agent_payload payload,
                                           std::chrono::milliseconds deadline) {
  if (impl_->stopped) return error{errc::not_running, "agent host is stopped"};
  if (auto* r = impl_->find(from)) return r->request(to, std::move(payload), deadline);
  if (impl_->daemon_requester && from == impl_->opts.daemon->config().name)
    return std::move(impl_->daemon_requester->call({agent_call{to, std::move(payload)}}, deadline).front());
  return error{errc::not_found, "no agent named '" + from + "' in this host"};
}

std::optional<error> agent_host::store_failure() const {
  if (!impl_ || impl_->stopped) return std::nullopt;
  for (auto& r : impl_->runtimes)
    if (auto f = r->get_node().store_failure())
      return error{f->code(), "agent '" + r->name() + "': " + f->message()};
  return std::nullopt;
}

void agent_host::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->running = false;
  if (impl_->daemon_requester) impl_->daemon_requester->cancel_all();
  if (impl_->dir_thread.joinable()) impl_->dir_thread.join();
  if (impl_->daemon_pump.joinable()) impl_->daemon_pump.join();
  for (auto& r : impl_->runtimes) r->shutdown();
  for (auto& r : impl_->runtimes) r->await_actor();  // all told first: their handlers end side by side
  for (auto& r : impl_->runtimes) r->stop_node();
  impl_->actors.reset();  // the last user of the system: joins its threads
  impl_->runtimes.clear();  // agents (and their plugin libraries) go last
}

} // namespace aqua
