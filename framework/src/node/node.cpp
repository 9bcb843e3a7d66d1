// node: builds a caf::actor_system per node (or starts in the agent host's,
// node/actor_runtime.hpp) and wires the component
// actors as the config says. Everything that can fail (key file, plugins)
// is checked before the first actor is spawned.

#include "aqua/node.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <thread>

#include "actors/identity_actor.hpp"
#include "actors/protocol.hpp"
#include "node/node_impl.hpp"
#include "identity/key_store.hpp"
#include "node/transport_host.hpp"
#include "e2ee/card.hpp"
#include "store/engine_store.hpp"
#include "plugin/plugin_loader.hpp"

namespace aqua {

using namespace actors;


node::node(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
node::~node() { stop(); }

namespace node_detail {

std::shared_ptr<actor_runtime> make_actor_runtime(std::size_t workers) {
  auto rt = std::make_shared<actor_runtime>();
  // Worker threads: on 2 cores one worker beat two (bench/transport,
  // docs/performance.md): request/reply p50 -50..-85 us on tmpfs and
  // -170..-360 us on disk; the second worker mostly added wake-ups and work
  // stealing beside the transport's, ZeroMQ's and the store's threads.
  rt->cfg.set("scheduler.max-threads", workers);
  // An idle CAF worker spins briefly, then (by default) naps 50 us at a time
  // 500 times before it blocks on its condition variable. Every actor hop
  // that lands on a napping worker waits out the nap, and the naps are half
  // the node's system calls when idle. Going straight to the condition
  // variable (woken on enqueue) cut bench/transport's request/reply p50 by
  // ~30% (tmpfs: 450 -> 310 us) and raised throughput ~10%.
  rt->cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
  rt->cfg.set("logger.verbosity", caf::atom("quiet"));
  rt->system = std::make_unique<caf::actor_system>(rt->cfg);
  return rt;
}

} // namespace node_detail

namespace {
constexpr int store_lock_waits = 40;  // x 50 ms: 2 s
} // namespace

result<std::unique_ptr<node>> node::start(const node_config& cfg) { return node_detail::starter::start(cfg, nullptr); }

result<std::unique_ptr<node>> node_detail::starter::start(const node_config& cfg,
                                                          std::shared_ptr<actor_runtime> runtime) {
  if (std::getenv("AQUA_LOG_NODE_NAME")) spdlog::set_pattern("[%H:%M:%S.%e] [" + cfg.name + "] [%l] %v");
  auto kp = read_key_file(cfg.identity.key_file);
  if (!kp) return kp.err();
  if (auto r = ensure_private_dir(cfg.data_dir); !r) return r.err();
  auto db = store::db::open(cfg.data_dir / store::dir_name);
  // A command reading the store without a daemon (`aqua contacts list`, `inbox list`) holds its lock for a few
  // milliseconds: a node starting meanwhile (`aqua serve &` then such a command at once) waits for it instead of
  // failing with store_locked. A node that keeps the store (another daemon) is still refused, after the wait.
  for (int i = 0; i < store_lock_waits && !db && db.err().code() == errc::store_locked; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    db = store::db::open(cfg.data_dir / store::dir_name);
  }
  if (!db) return db.err();
  std::shared_ptr<store::db> shared_db = std::move(*db);
  crypto_setup crypto;
  crypto.cfg = cfg.crypto;
  e2ee::engine_limits limits;
  limits.max_payload = cfg.crypto.max_frame_bytes + 1;  // + the inner type byte
  // A used one-time prekey stays usable as long as a card of ours that listed it may still be in use.
  limits.spent_one_time_keep_ms = std::int64_t{cfg.crypto.card_validity_days} * 24 * 3600 * 1000;
  // A retired signed prekey outlives the last card naming it by as long as a message sealed from that card lives.
  limits.retired_prekey_grace_ms = std::int64_t{cfg.crypto.default_ttl_s} * 1000;
  auto engine = store::load_engine(*shared_db, kp->pub(), system_env(), limits);
  if (!engine) return engine.err();
  crypto.engine = std::make_shared<e2ee::engine>(std::move(*engine));
  auto contacts = contact_store::open(shared_db, cfg.data_dir / contact_book::legacy_file_name);
  if (!contacts) return contacts.err();
  (*contacts)->set_owner(kp->id());
  crypto.contacts = *contacts;
  // The relay server's mailbox and card directory (relay.serve): opened before any actor runs.
  relay_setup relay;
  if (auto r = node_detail::add_relay_services(relay, cfg, shared_db); !r) return r.err();
  routing_setup setup;
  auto transports = plugin_loader::load_transports(cfg);
  if (!transports) return transports.err();
  setup.transports = std::move(*transports);
  // Keep only the transports routing is allowed to use for dialling, in order.
  std::vector<std::pair<std::string, std::shared_ptr<transport>>> ordered;
  for (auto& name : cfg.routing.transports)
    for (auto& p : setup.transports)
      if (p.first == name) ordered.push_back(p);
  for (auto& p : setup.transports) {
    bool listed = false;
    for (auto& o : ordered) listed = listed || o.first == p.first;
    if (!listed) ordered.push_back(p);  // still listens; dialled last
  }
  setup.transports = std::move(ordered);

  auto p = std::make_unique<node::impl>();
  p->cfg = cfg;
  p->self = kp->id();
  p->runtime = runtime ? std::move(runtime)
                       : make_actor_runtime(node_worker_threads(cfg.worker_threads, std::thread::hardware_concurrency()));
  p->system = p->runtime->system.get();
  auto& sys = *p->system;
  p->bridge = node_detail::spawn_ask_bridge(sys);

  // Transports authenticate connections with Noise sessions signed by the
  // identity (the host shares the key's protected memory; plugins never see it).
  auto host = std::make_shared<node_transport_host>(*kp, system_env());
  setup.host = host;
  setup.contacts = *contacts;
  // The secret key moves into the identity actor; our copy dies with `kp`.
  auto holder = std::make_shared<keypair_holder>(keypair_holder{std::move(*kp)});
  p->identity = spawn_identity(sys, std::move(holder));
  crypto.identity = p->identity;
  p->crypto = spawn_crypto(sys, std::move(crypto));
  p->db = shared_db;
  p->contacts = *contacts;
  p->mailbox = spawn_mailbox(sys, mailbox_setup{cfg.mailbox, shared_db, p->crypto, {},
                                                std::uint64_t{cfg.crypto.default_ttl_s} * 1000, limits.max_payload});
  relay.self = p->self;
  relay.cfg = cfg.relay;
  relay.host = host;  // the relay server's identity (Noise, vouchers)
  p->relay = spawn_relay(sys, std::move(relay));
  setup.self = p->self;
  setup.cfg = cfg.routing;
  setup.transport_configs = cfg.transports;
  setup.mailbox = p->mailbox;
  setup.relay = p->relay;
  p->transports = setup.transports;
  p->routing = spawn_routing(sys, std::move(setup));
  p->host = host;
  host->set_held_sink([routing = caf::actor_cast<caf::weak_actor_ptr>(p->routing)](
                        bytes frame, const peer_id& depositor, std::function<void(result<void>)> done) {
    completion c(std::move(done));
    if (auto strong = routing.lock())
      caf::anon_send(caf::actor_cast<caf::actor>(strong), held_atom::value, std::move(frame),
                     depositor.empty() ? std::string() : depositor.str(), c);
  });  // a dropped message (routing gone) completes with not_running

  std::unique_ptr<node> n(new node(std::move(p)));
  auto loaded = n->impl_->ask<bool>(n->impl_->mailbox, std::chrono::seconds(30), init_atom::value, n->impl_->routing);
  if (!loaded) return loaded.err();
  // Longer than any transport's own wait (relay_v2's listen_timeout_ms, default 10 s): a transport that cannot listen
  // fails with its own reason (e.g. the relay refused the reservation), not with this timeout.
  auto addrs = n->impl_->ask<std::vector<std::string>>(n->impl_->routing, std::chrono::seconds(120), listen_atom::value);
  if (!addrs) return addrs.err();  // ~node stops the half-built system
  n->impl_->listen_addrs = *addrs;
  // The relay server (relay.serve) binds its own addresses; a failure (e.g. address in use) fails the start.
  auto relay_addrs = n->impl_->ask<std::vector<std::string>>(n->impl_->relay, std::chrono::seconds(10), init_atom::value);
  if (!relay_addrs) return relay_addrs.err();
  for (const auto& a : *relay_addrs) spdlog::info("node {} relays circuits at {}", cfg.name, a);
  // Our card: signed now, renewed by the card keeper, offered where peers look cards up.
  if (auto r = n->impl_->start_card(*addrs); !r) return r.err();
  spdlog::info("node {} started as {} on {}", cfg.name, n->impl_->self.str(),
               addrs->empty() ? std::string("(no listeners)") : addrs->front());
  return n;
}

const peer_id& node::id() const { return impl_->self; }
const node_config& node::config() const { return impl_->cfg; }
// As the transports report them now: a relay_v2 address comes and goes with its reservation (the ones at start
// are in the card). Stopped: the ones at start.
std::vector<std::string> node::listen_addresses() const {
  if (impl_->stopped) return impl_->listen_addrs;
  return impl_->transport_addresses();
}

result<std::string> node::send(const peer_id& to, bytes payload, std::chrono::milliseconds timeout, std::uint64_t ttl_ms,
                               const std::string& message_id) {
  return send(to, std::move(payload), send_options{timeout, ttl_ms, message_id, {}});
}

result<std::string> node::send(const peer_id& to, bytes payload, const send_options& o) {
  bytes again;
  // Not a contact, or one whose card expired: a failed first message may need its card looked up.
  const bool may_discover = [&] {
    if (impl_->stopped) return false;
    auto expires = impl_->contacts->card_expiry(to);  // no decode: kept with the contact
    return !expires || system_env()->now_unix_ms() >= *expires;
  }();
  if (may_discover) again = payload;  // the copy is only kept for a peer that may need its card looked up
  auto r = send_async(to, std::move(payload), o).wait(o.timeout);
  if (r || !may_discover) return r;
  const auto failed = r.err().code();
  if (failed != errc::unknown_session && failed != errc::card_expired) return r;
  // No session and no (valid) card: look the card up where the peer publishes it (card-directory.md), then send.
  // As long as a relay may take to answer (relay_v2's lookup_timeout_ms, 10 s), whatever o.timeout (the outbox's).
  auto found = impl_->discover_card(to, {}, std::chrono::seconds(12));
  if (!found && found.err().code() == errc::not_supported) return r;  // nowhere to look (no relays)
  if (!found && found.err().code() == errc::not_found)
    return error{failed, r.err().message() + "; " + found.err().message()};
  if (!found)  // the relays could not be asked now (down, hung): retry later, unlike a card nobody has
    return error{found.err().code(), r.err().message() + "; its card could not be looked up: " + found.err().message()};
  return send_async(to, std::move(again), o).wait(o.timeout);
}

send_ticket node::send_async(const peer_id& to, bytes payload, const send_options& o) {
  auto s = std::make_shared<send_ticket::state>();
  s->node_name = impl_->cfg.name;
  if (impl_->stopped) {
    s->slot.set(error{errc::not_running, "node " + impl_->cfg.name + " is stopped"});
    return send_ticket(s);
  }
  if (to == impl_->self) {  // no session with ourselves: it would be retried until it expires
    s->slot.set(error{errc::invalid_argument, "cannot send to this node's own peer ID (" + to.str() + ")"});
    return send_ticket(s);
  }
  // The mailbox fills the ticket itself (actors::answer), as for node::impl::call;
  // the answer's reply_to keeps the ticket's state alive (aliasing pointer).
  std::shared_ptr<node_detail::reply_slot<std::string>> slot(s, &s->slot);
  caf::anon_send(impl_->mailbox, send_atom::value, to.str(), std::move(payload), o.ttl_ms, o.message_id, o.topic,
                 actors::answer<std::string>(node_detail::reply_to<std::string>(std::move(slot))));
  return send_ticket(s);
}

result<std::string> send_ticket::wait(std::chrono::milliseconds timeout) const {
  if (!s_) return error{errc::invalid_argument, "an empty send_ticket (not from node::send_async)"};
  auto r = s_->slot.peek_for(timeout);
  if (!r) return no_answer(s_->node_name, timeout);
  return std::move(*r);
}

bool send_ticket::ready() const { return s_ && s_->slot.peek_for(std::chrono::milliseconds(0)).has_value(); }

result<outbound_message> node::await_outcome(const std::string& message_id, std::chrono::milliseconds timeout) {
  auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, timeout.count()));
  return impl_->call<outbound_message>(impl_->mailbox, timeout + std::chrono::seconds(5), await_atom::value, message_id,
                                       ms);
}

result<std::vector<inbound_message>> node::watch(std::uint64_t after, std::size_t max, std::chrono::milliseconds timeout) {
  return watch(after, max, 0, timeout);
}

result<std::vector<inbound_message>> node::watch(std::uint64_t after, std::size_t max, std::size_t max_bytes,
                                                 std::chrono::milliseconds timeout) {
  auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, timeout.count()));
  return impl_->call<message_list>(impl_->mailbox, timeout + std::chrono::seconds(5), watch_atom::value, after,
                                   std::uint64_t{max}, std::uint64_t{max_bytes}, ms);
}

result<inbound_message> node::read(std::uint64_t sequence) {
  return impl_->ask<inbound_message>(impl_->mailbox, std::chrono::seconds(10), read_atom::value, sequence);
}

result<void> node::give_back(std::uint64_t sequence) {
  auto r = impl_->ask<bool>(impl_->mailbox, std::chrono::seconds(10), unread_atom::value, sequence);
  if (!r) return r.err();
  return ok();
}

result<void> node::remove(std::uint64_t sequence) {
  auto r = impl_->ask<bool>(impl_->mailbox, std::chrono::seconds(10), delete_atom::value, sequence);
  if (!r) return r.err();
  return ok();
}

result<std::uint64_t> node::read_through() {
  return impl_->ask<std::uint64_t>(impl_->mailbox, std::chrono::seconds(10), read_through_atom::value);
}

result<std::vector<outbound_message>> node::outbox() {
  return impl_->ask<outbox_list>(impl_->mailbox, std::chrono::seconds(10), outbox_atom::value);
}

result<std::vector<outbound_message>> node::outbox(const std::string& after, std::size_t max) {
  return impl_->ask<outbox_list>(impl_->mailbox, std::chrono::seconds(10), outbox_atom::value, after,
                                 std::uint64_t{max});
}

result<inbound_message> node::receive(std::chrono::milliseconds timeout) {
  // The mailbox enforces the deadline itself, so a message is never handed
  // to a caller that already gave up; we wait a little longer than it does.
  auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, timeout.count()));
  return impl_->call<inbound_message>(impl_->mailbox, timeout + std::chrono::seconds(5), next_atom::value, ms);
}

result<std::vector<inbound_message>> node::inbox() {
  return impl_->ask<message_list>(impl_->mailbox, std::chrono::seconds(10), list_atom::value);
}

result<node_status> node::status() {
  if (impl_->stopped) return error{errc::not_running, "node is stopped"};
  caf::scoped_actor sa{*impl_->system};
  node_status st;
  st.id = impl_->self;
  st.listen_addresses = listen_addresses();
  std::optional<error> failure;
  sa->request(impl_->routing, std::chrono::seconds(10), status_atom::value)
    .receive(
      [&](std::uint64_t conns, std::uint64_t sent, std::uint64_t received, std::uint64_t rejected,
          std::uint64_t waiting, std::uint64_t blocked, std::uint64_t deposited) {
        st.frames_deposited = deposited;
        st.frames_waiting = waiting;
        st.connections_blocked = blocked;
        st.connections = conns;
        st.frames_sent = sent;
        st.frames_received = received;
        st.frames_rejected = rejected;
      },
      [&](const caf::error& e) { failure = from_caf(e); });
  if (failure) return *failure;
  sa->request(impl_->mailbox, std::chrono::seconds(10), status_atom::value)
    .receive(
      [&](std::uint64_t received, std::uint64_t rejected, std::uint64_t pending, std::uint64_t unread) {
        st.inbox_unread = unread;
        st.messages_received = received;
        st.frames_rejected += rejected;
        st.outbox_pending = pending;
      },
      [&](const caf::error& e) { failure = from_caf(e); });
  if (failure) return *failure;
  auto fwd = impl_->ask<std::uint64_t>(impl_->relay, std::chrono::seconds(10), status_atom::value);
  if (!fwd) return fwd.err();
  st.frames_forwarded = *fwd;
  auto relay = impl_->ask<relay_server_status>(impl_->relay, std::chrono::seconds(10), status_atom::value,
                                               relay_atom::value);
  if (!relay) return relay.err();
  st.relay = std::move(*relay);
  for (auto& [name, t] : impl_->transports) {
    node_status::transport_report r;
    r.name = name;
    r.listen_addresses = t->listen_addresses();
    r.details = t->diagnostics();
    st.transports.push_back(std::move(r));
  }
  if (auto f = store_failure()) st.store_failure = f->what();
  return st;
}

std::optional<error> node::store_failure() const { return impl_->db ? impl_->db->failure() : std::nullopt; }

result<path_diagnosis> node::diagnose_path(const peer_id& peer) {
  return impl_->ask<path_diagnosis>(impl_->routing, std::chrono::seconds(10), path_atom::value, peer.str());
}

void node::stop() {
  if (!impl_ || impl_->stopped) return;
  // Attempt bookkeeping the mailbox writes lazily goes to the store first.
  if (impl_->mailbox) (void) impl_->ask<bool>(impl_->mailbox, std::chrono::seconds(5), sent_flush_atom::value, true);
  impl_->stopped = true;
  if (impl_->host) impl_->host->set_held_sink({});
  std::vector<caf::actor> own;
  for (auto* a : {&impl_->keeper, &impl_->routing, &impl_->relay, &impl_->mailbox, &impl_->crypto, &impl_->identity, &impl_->bridge})
    if (*a) {
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
      own.push_back(std::move(*a));
      *a = nullptr;
    }
  {  // our actors (and their state) end before the store goes; a shared system runs on after that
    caf::scoped_actor self{*impl_->system};
    self->wait_for(own);
  }
  own.clear();
  impl_->system = nullptr;
  impl_->runtime.reset();  // our own system: waits for every actor to finish
  impl_->transports.clear();
  impl_->contacts.reset();
  impl_->db.reset();      // after the actors: their last writes are done
}

} // namespace aqua
