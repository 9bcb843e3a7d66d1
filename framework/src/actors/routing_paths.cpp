// Routing, frames out: connections, the path choice (routing/path_table.hpp,
// docs/routing.md) and deposits on relay mailboxes.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "actors/routing_parts.hpp"

#include "e2ee/card.hpp"

namespace aqua::actors {

std::int64_t routing_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::uint64_t add_connection(routing_actor_t* self, connection_ptr c, std::string transport, std::string peer,
                             std::string address) {
  auto& st = self->state;
  auto id = st.next_id++;
  conn_entry e;
  e.conn = c;
  e.transport = std::move(transport);
  e.peer = peer;
  e.address = std::move(address);
  e.opened_ms = routing_now_ms();
  st.conns[id] = std::move(e);
  if (!peer.empty()) st.by_peer[peer] = id;
  c->set_observer(std::make_shared<conn_observer>(caf::actor_cast<caf::weak_actor_ptr>(self), id));
  return id;
}

void fail_connection(routing_actor_t* self, std::uint64_t id, const error& why) {
  auto& st = self->state;
  auto it = st.conns.find(id);
  if (it == st.conns.end()) return;
  auto& e = it->second;
  if (!e.address.empty() && !e.answered && !e.peer.empty()) {
    auto now = routing_now_ms();
    st.paths.failed(e.peer, e.address, why.what(), now, 2 * (now - e.opened_ms));
  }
  auto pending = std::move(e.pending);
  auto peer = e.peer;
  if (!peer.empty()) {
    auto bp = st.by_peer.find(peer);
    if (bp != st.by_peer.end() && bp->second == id) st.by_peer.erase(bp);
  }
  e.conn->close();
  st.conns.erase(it);
  // Frames the transport never took try the next path (the same bytes, so
  // the receiver's dedup still sees one message).
  for (auto& p : pending) {
    if (!peer.empty() && p.reroutes < max_reroutes) {
      ++p.reroutes;
      transmit(self, peer, std::move(p));
    } else if (p.rp) {
      p.rp->deliver(to_caf(why));
    }
  }
}

namespace {

// The peer has left a frame of ours unanswered for the suspect time on `e`,
// dialled or accepted (in-process connections cannot go silent).
bool silent(const conn_entry& e, std::int64_t now) {
  if (routing::in_process(e.address) || routing::in_process(e.conn->remote_address())) return false;
  return e.unanswered_since_ms != 0 && now - e.unanswered_since_ms >= suspect_after_ms;
}

bool suspect(const conn_entry& e, std::int64_t now) {
  if (e.address.empty() || routing::in_process(e.address)) return false;
  if (!e.answered) return now - e.opened_ms >= suspect_after_ms;
  return silent(e, now);
}

} // namespace

// Where `peer` can be reached: the static route from the config first, then
// the addresses its contact card advertises (the shared contact store, so
// `aqua contacts add` takes effect without a restart).
std::vector<std::string> addresses_of(routing_actor_t* self, const std::string& peer) {
  auto& st = self->state;
  std::vector<std::string> out;
  if (auto route = st.routes.find(peer); route != st.routes.end()) out.push_back(route->second);
  auto add = [&out](const std::vector<std::string>& addresses) {
    for (auto& a : addresses)
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  };
  auto id = peer_id::parse(peer);
  if (st.setup.contacts && id)
    if (auto c = st.setup.contacts->find(*id))
      if (auto card = e2ee::decode_card(c->card)) add(card->addresses);
  add(st.senders.of(peer));
  return out;
}

void flush(routing_actor_t* self, std::uint64_t id) {
  auto it = self->state.conns.find(id);
  if (it == self->state.conns.end()) return;
  auto& e = it->second;
  while (!e.pending.empty() && !e.blocked) {
    auto& p = e.pending.front();
    auto r = e.conn->send(p.frame);
    if (!r) {
      if (r.err().code() == errc::would_block) {
        e.blocked = true;
        return;
      }
      if (r.err().code() == errc::frame_too_large && !e.peer.empty()) {
        // Too large for this connection (e.g. a relay circuit's data limit), not a broken one: the connection stays
        // for smaller frames, and this frame goes to a relay mailbox instead of being lost in the circuit.
        spdlog::debug("routing: a {}-byte frame for {} goes to a relay mailbox; its {} connection refused it: {}",
                      p.frame.size(), e.peer, e.transport, r.err().what());
        // The connection is open (the send did not wait for it), so the peer is there: what relays held for it may
        // have been fetched, and the deposit below must not be skipped as "held already".
        self->state.held_by_relays.seen_online(e.peer, routing_now_ms());
        auto frame = std::move(p);
        e.pending.pop_front();
        frame.mailbox_only = true;
        const std::string peer = e.peer;
        transmit(self, peer, std::move(frame));  // may change conns: `e` is not used after this
        if (self->state.conns.count(id)) flush(self, id);
        return;
      }
      fail_connection(self, id, r.err());
      return;
    }
    ++self->state.sent;
    // A live connection took a frame for the peer: what relays hold for it may have been fetched meanwhile. Not
    // so on a connection the peer has left unanswered (its frames also go to a mailbox, transmit()).
    if (!e.peer.empty() && !suspect(e, routing_now_ms())) self->state.held_by_relays.seen_online(e.peer, routing_now_ms());
    if (p.rp) p.rp->deliver(std::string());  // a connection took it
    e.pending.pop_front();
  }
}

namespace {

void enqueue(routing_actor_t* self, std::uint64_t id, const std::string& peer, pending_frame p) {
  auto& e = self->state.conns[id];
  if (e.pending.size() >= max_pending_per_connection) {
    if (p.rp)
      p.rp->deliver(to_caf(error{errc::would_block, std::to_string(e.pending.size()) + " frames already queued for " + peer}));
    return;
  }
  if (p.expects_answer && e.unanswered_since_ms == 0) e.unanswered_since_ms = routing_now_ms();
  e.pending.push_back(std::move(p));
  flush(self, id);
}

// Dials `address` with each transport in turn; records a failure.
std::optional<std::uint64_t> dial(routing_actor_t* self, const std::string& peer, const std::string& address,
                                  std::string& failures) {
  auto& st = self->state;
  // Network addresses name the peer (/p2p/ID), so the transport's handshake refuses anyone else.
  auto target = address;
  if (target.find("/p2p/") == std::string::npos && !routing::in_process(target)) target += "/p2p/" + peer;
  std::string why;
  for (auto& [name, t] : st.setup.transports) {
    auto c = t->dial(target);
    if (c) return add_connection(self, *c, name, peer, address);
    why += (why.empty() ? "" : "; ") + name + ": " + c.err().what();
  }
  st.paths.failed(peer, address, why, routing_now_ms());
  failures += "; " + address + ": " + why;
  return std::nullopt;
}

void try_deposit(routing_actor_t* self, std::uint64_t token) {
  auto& st = self->state;
  auto it = st.deposits.find(token);
  if (it == st.deposits.end()) return;
  auto& job = it->second;
  auto n = st.setup.transports.size();
  if (n == 0 || job.next >= job.addresses.size() * n) {
    if (job.p.rp)
      job.p.rp->deliver(to_caf(error{errc::connection_refused, "cannot reach " + job.peer + " live and no relay mailbox took the message" + job.failures}));
    st.deposits.erase(it);
    return;
  }
  auto& address = job.addresses[job.next / n];
  auto& t = st.setup.transports[job.next % n].second;
  ++job.next;
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self);
  t->deposit(address, job.p.frame, mailbox_ttl_s, [weak, token](result<void> r) {
    post(weak, r ? caf::make_message(deposit_atom::value, token, true, std::string(), std::string())
                 : caf::make_message(deposit_atom::value, token, false, std::string(to_string(r.err().code())),
                                     r.err().message()));
  });
}

} // namespace

void deposit_done(routing_actor_t* self, std::uint64_t token, const result<void>& r) {
  auto& st = self->state;
  auto it = st.deposits.find(token);
  if (it == st.deposits.end()) return;
  auto& job = it->second;
  auto n = std::max<std::size_t>(st.setup.transports.size(), 1);
  auto& address = job.addresses[(job.next - 1) / n];
  if (r) {
    ++st.deposited;
    const auto relay = address.substr(0, address.find("/p2p-circuit"));
    st.held_by_relays.deposited(job.peer, job.p.frame, relay, routing_now_ms());
    st.paths.used(job.peer, routing::path_kind::mailbox, address, routing_now_ms());
    spdlog::debug("routing: deposited a frame for {} on the mailbox of {}", job.peer, address);
    if (job.p.rp) job.p.rp->deliver(relay);  // the relay that holds it
    st.deposits.erase(it);
    return;
  }
  // not_supported from a transport that has no mailbox at all says nothing; from a relay without one, it is the reason.
  if (r.err().code() != errc::not_supported || r.err().message().find("on this transport") == std::string::npos)
    job.failures += "; mailbox " + address + ": " + r.err().what();
  try_deposit(self, token);
}

namespace {

std::optional<std::uint64_t> connection_to(routing_actor_t* self, const std::string& peer, const std::string& address) {
  for (auto& [id, e] : self->state.conns)
    if (e.peer == peer && e.address == address && e.conn->is_open()) return id;
  return std::nullopt;
}

// `current` was dialled and the peer has been silent on it for a while: dial
// the next live address that has no connection yet; it becomes the peer's
// connection (the old one stays until it answers or fails).
std::optional<std::uint64_t> try_alternative(routing_actor_t* self, const std::string& peer, const conn_entry& current) {
  auto& st = self->state;
  auto now = routing_now_ms();
  if (!suspect(current, now)) return std::nullopt;
  std::string failures;
  for (auto& address : st.paths.choose(peer, addresses_of(self, peer), now, self->state.can_relay).live) {
    if (address == current.address || connection_to(self, peer, address)) continue;
    if (auto id = dial(self, peer, address, failures)) {
      spdlog::info("routing: no answer from {} on {} for {} ms; also trying {}", peer, current.address,
                   now - (current.answered ? current.unanswered_since_ms : current.opened_ms), address);
      st.paths.used(peer, routing::kind_of(address), address, now);
      return id;
    }
  }
  return std::nullopt;
}

// Leaves `p` on the first relay mailbox of `mailboxes` that takes it (try_deposit), unless a relay holds it already.
void deposit_via(routing_actor_t* self, const std::string& peer, pending_frame p, std::vector<std::string> mailboxes,
                 const std::string& failures, std::int64_t now) {
  auto& st = self->state;
  if (auto relay = st.held_by_relays.held(peer, p.frame, now)) {
    // The path this attempt took is still that mailbox (a relayed dial may have been recorded on the way here).
    auto at = std::find_if(mailboxes.begin(), mailboxes.end(), [&](const std::string& a) { return a.starts_with(*relay); });
    st.paths.used(peer, routing::path_kind::mailbox, at != mailboxes.end() ? *at : *relay, now);
    if (p.rp) p.rp->deliver(*relay);  // it still holds these very bytes for the peer, as far as we know
    return;
  }
  auto token = st.next_deposit++;
  st.deposits[token] = deposit_job{peer, std::move(p), std::move(mailboxes), 0, failures};
  try_deposit(self, token);
}

// A frame no live connection can carry (too large for a relay circuit): a relay mailbox, or the reason there is none.
void deposit_only(routing_actor_t* self, const std::string& peer, pending_frame p) {
  auto now = routing_now_ms();
  auto choice = self->state.paths.choose(peer, addresses_of(self, peer), now, self->state.can_relay);
  if (!choice.mailbox.empty()) return deposit_via(self, peer, std::move(p), choice.mailbox, {}, now);
  if (p.rp)
    p.rp->deliver(to_caf(error{errc::frame_too_large, "the frame of " + std::to_string(p.frame.size()) + " bytes is too "
                                                      "large for the live connection to " + peer +
                                                      " (e.g. a relay circuit's data limit) and no relay mailbox is known for it"}));
}

} // namespace

void transmit(routing_actor_t* self, const std::string& peer, pending_frame p) {
  auto& st = self->state;
  if (p.mailbox_only) return deposit_only(self, peer, std::move(p));
  if (auto it = st.by_peer.find(peer); it != st.by_peer.end()) {
    auto c = st.conns.find(it->second);
    if (c != st.conns.end() && c->second.conn->is_open()) {
      auto target = it->second;
      if (auto alt = try_alternative(self, peer, c->second)) {
        target = *alt;
      } else if (auto now = routing_now_ms(); suspect(c->second, now)) {
        // The peer has left this connection unanswered (stopped, partitioned: the transport may not notice for a
        // minute) and no other live path dials: a relay's mailbox takes the frame too, and the copy on the
        // connection arrives if the peer comes back on it (the receiver keeps one and acks both).
        auto boxes = st.paths.choose(peer, addresses_of(self, peer), now, st.can_relay).mailbox;
        if (!boxes.empty()) {
          enqueue(self, target, peer, pending_frame{p.frame, std::nullopt, p.reroutes, p.expects_answer});
          return deposit_via(self, peer, std::move(p), std::move(boxes), {}, now);
        }
      }
      enqueue(self, target, peer, std::move(p));
      return;
    }
    if (c != st.conns.end()) {
      // Closed under us: its frames (and this one) take the next path.
      auto id = it->second;
      c->second.pending.push_back(std::move(p));
      fail_connection(self, id, error{errc::connection_closed, "connection to " + peer + " closed"});
      return;
    }
    st.by_peer.erase(it);
  }
  auto addresses = addresses_of(self, peer);
  if (addresses.empty()) {
    if (p.rp)
      p.rp->deliver(to_caf(error{errc::no_route, "no connection to " + peer +
                                                     ", no route for it in components.routing.routes and no address in its contact card"}));
    return;
  }
  auto now = routing_now_ms();
  auto choice = st.paths.choose(peer, addresses, now, st.can_relay);
  std::string failures;
  for (auto& address : choice.live) {
    if (auto open = connection_to(self, peer, address)) {  // still trying: reuse it unless it is suspect
      if (suspect(st.conns[*open], now)) continue;
      st.by_peer[peer] = *open;
      enqueue(self, *open, peer, std::move(p));
      return;
    }
    if (auto id = dial(self, peer, address, failures)) {
      st.paths.used(peer, routing::kind_of(address), address, now);
      enqueue(self, *id, peer, std::move(p));
      return;
    }
  }
  if (!choice.mailbox.empty()) return deposit_via(self, peer, std::move(p), choice.mailbox, failures, now);
  if (p.rp) p.rp->deliver(to_caf(error{errc::connection_refused, "cannot reach " + peer + failures + " (" + choice.why + ")"}));
}

path_diagnosis diagnose(routing_actor_t* self, const std::string& peer) {
  auto& st = self->state;
  path_diagnosis d;
  if (auto id = peer_id::parse(peer)) d.peer = *id;
  auto addresses = addresses_of(self, peer);
  auto now = routing_now_ms();
  auto choice = st.paths.choose(peer, addresses, now, st.can_relay);
  d.decision = choice.why;
  if (auto it = st.by_peer.find(peer); it != st.by_peer.end())
    if (auto c = st.conns.find(it->second); c != st.conns.end() && c->second.conn->is_open()) {
      auto& e = c->second;
      d.connection = e.transport + " " + e.conn->remote_address();
      d.heard_ms_ago = e.heard_ms ? now - e.heard_ms : -1;
      d.unanswered_ms = e.unanswered_since_ms ? now - e.unanswered_since_ms : 0;
      // A transport may keep a connection "open" whose peer is gone (ZeroMQ
      // reconnects a dialled socket for ever): only the peer's answers count.
      d.connected = !silent(e, now);
      if (d.connected) d.decision = "open connection: " + d.connection;
      else
        d.decision = "connection " + d.connection + " open, but the peer has not answered for " +
                     std::to_string(d.unanswered_ms) + " ms (stopped or unreachable?); new frames also try: " +
                     choice.why;
    }
  if (auto last = st.paths.last_used(peer)) {
    d.last_path = std::string(routing::to_string(last->first));
    d.last_address = last->second;
  }
  auto wall = system_env()->now_unix_ms();
  for (auto& r : st.paths.report(peer, addresses)) {
    path_diagnosis::address a;
    a.address = r.address;
    a.kind = std::string(routing::to_string(r.kind));
    a.failures = r.failures;
    a.retry_in_ms = std::max<std::int64_t>(0, r.retry_at_ms - routing_now_ms());
    a.last_error = r.last_error;
    d.addresses.push_back(std::move(a));
  }
  (void) wall;
  return d;
}

} // namespace aqua::actors
