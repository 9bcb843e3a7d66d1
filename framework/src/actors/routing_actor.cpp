// The routing actor: owns the transports and their connections. Outgoing:
// takes envelopes from the mailbox, picks or dials a connection, queues
// under backpressure. Incoming: drains connections, peeks each envelope's
// recipient, hands ours to the mailbox and others' to the relay path.

#include <spdlog/spdlog.h>

#include "actors/routing_parts.hpp"
#include "e2ee/envelope.hpp"

namespace aqua::actors {
namespace {


// An envelope for someone else: ask the relay, then pass it on unchanged
// (relays never open envelopes; they cannot).
void forward(routing_actor_t* self, bytes frame, const peer_id& to) {
  auto recipient = to.str();
  self->request(self->state.setup.relay, caf::infinite, forward_atom::value, recipient, std::uint64_t{frame.size()})
    .then(
      [=](bool) mutable {
        auto before = self->state.sent;
        transmit(self, recipient, pending_frame{std::move(frame), std::nullopt});
        self->send(self->state.setup.relay, forward_done_atom::value, self->state.sent > before);
      },
      [=](const caf::error& e) {
        ++self->state.rejected;
        warn_limited(self->state.peer_log, routing_now_ms(), "routing: dropped frame for {}: {}{}", recipient,
                     from_caf(e).what());
      });
}

void handle_frame(routing_actor_t* self, std::uint64_t id, bytes frame) {
  auto transport = self->state.conns[id].transport;
  auto to = e2ee::peek_recipient(frame);
  if (!to) {
    ++self->state.rejected;
    const auto& peer = self->state.conns[id].peer;
    warn_limited(self->state.peer_log, routing_now_ms(), "routing: rejected frame on {} from {}: {}{}", transport,
                 peer.empty() ? "a connection not yet bound to a peer" : peer, to.err().what());
    return;
  }
  if (!(*to == self->state.setup.self)) {
    forward(self, std::move(frame), *to);
    return;
  }
  ++self->state.received;
  auto& e = self->state.conns[id];
  if (!e.peer.empty()) self->state.held_by_relays.seen_online(e.peer, routing_now_ms());
  e.unanswered_since_ms = 0;
  e.heard_ms = routing_now_ms();
  if (!e.answered) {
    e.answered = true;  // the peer speaks on it: the address works
    if (!e.address.empty() && !e.peer.empty()) self->state.paths.worked(e.peer, e.address);
  }
  // The peer this connection is bound to (if any) helps crypto place an
  // envelope whose tag lies past its window.
  self->send(self->state.setup.mailbox, frame_atom::value, id, transport, self->state.conns[id].peer, std::move(frame));
}

void drain(routing_actor_t* self, std::uint64_t id) {
  auto it = self->state.conns.find(id);
  if (it == self->state.conns.end()) return;
  auto conn = it->second.conn;
  int n = 0;
  while (n < max_frames_per_drain) {
    auto f = conn->try_receive();
    if (!f) return;
    handle_frame(self, id, std::move(*f));
    ++n;
  }
  self->send(self, readable_atom::value, id);  // more may wait: yield, then continue
}

caf::behavior routing_actor(routing_actor_t* self, routing_setup setup) {
  auto& st = self->state;
  st.setup = std::move(setup);
  for (auto& r : st.setup.cfg.routes) st.routes[r.peer.str()] = r.address;
  for (auto& [name, t] : st.setup.transports) st.can_relay = st.can_relay || t->plugin_name() == "relay_v2";
  for (auto& [name, t] : st.setup.transports)
    t->start(std::make_shared<accept_observer>(caf::actor_cast<caf::weak_actor_ptr>(self), name), st.setup.host);
  return {
    [=](listen_atom) -> caf::result<std::vector<std::string>> {
      std::vector<std::string> bound;
      for (auto& tc : self->state.setup.transport_configs) {
        for (auto& [name, t] : self->state.setup.transports) {
          if (name != tc.name) continue;
          for (auto& addr : tc.listen) {
            auto r = t->listen(addr);
            if (!r) {
              const auto& why = r.err().message();  // a transport's own message may name the address already
              return to_caf(error{r.err().code(), "transport '" + name + "' " +
                                                    (why.find(addr) != std::string::npos ? why
                                                                                        : "cannot listen on " + addr + ": " + why)});
            }
            bound.push_back(*r);
          }
        }
      }
      return bound;
    },
    // An accepted connection; transports that authenticate (zmq, relay_v2)
    // already know the peer, so replies can use it at once.
    [=](incoming_atom, const std::string& transport, const connection_ptr& c) {
      auto peer = c->remote_peer();
      const auto id = add_connection(self, c, transport, peer.empty() ? std::string() : peer.str());
      if (peer.empty()) return;
      const auto now = routing_now_ms();
      self->state.conns[id].heard_ms = now;  // its handshake just came from the peer
      self->state.held_by_relays.seen_online(peer.str(), now);
      self->send(self->state.setup.mailbox, reachable_atom::value, peer.str());
    },
    // An envelope for `peer` (from the mailbox), answered once a transport
    // has it: "" when a connection took it, else the relay whose mailbox
    // holds it for the peer. `expects_answer`: false for an ack.
    [=](transmit_atom, const std::string& peer, bytes& envelope, bool expects_answer) -> caf::result<std::string> {
      auto rp = self->make_response_promise();
      transmit(self, peer, pending_frame{std::move(envelope), rp, 0, expects_answer});
      return caf::delegated<std::string>();
    },
    // The mailbox opened a message from `sender` on `conn`: replies use it.
    // The newest evidence wins: after a peer restarts, its old connection
    // may linger until the transport notices it is dead.
    [=](bind_atom, std::uint64_t conn, const std::string& sender) {
      auto& st = self->state;
      if (auto it = st.conns.find(conn); it != st.conns.end()) {
        if (it->second.peer.empty()) it->second.peer = sender;
        if (it->second.peer == sender) st.by_peer[sender] = conn;
      }
    },
    // A sender who is no contact said in its card where it can be reached (the mailbox, on a prekey message).
    [=](learn_atom, const std::string& sender, const std::vector<std::string>& addresses) {
      self->state.senders.learn(sender, addresses);
    },
    // A frame a relay's mailbox held for us: ours only (a relay checked the
    // recipient, but we do not rely on it); nothing to forward. `depositor`:
    // who the mailbox says deposited it (peer ID text or empty), a hint.
    [=](held_atom, bytes& frame, const std::string& depositor, const completion& done) {
      auto to = e2ee::peek_recipient(frame);
      if (!to || !(*to == self->state.setup.self)) {
        ++self->state.rejected;
        warn_limited(self->state.peer_log, routing_now_ms(), "routing: dropped held frame{}: {}{}",
                     depositor.empty() ? "" : " deposited by " + depositor,
                     to ? "addressed to " + to->str() : to.err().what());
        done(ok());  // never to be fetched again
        return;
      }
      ++self->state.received;
      self->send(self->state.setup.mailbox, held_atom::value, std::move(frame), depositor, done);
    },
    [=](deposit_atom, std::uint64_t token, bool ok, const std::string& code, const std::string& msg) {
      if (ok) deposit_done(self, token, aqua::ok());
      else deposit_done(self, token, error{errc_from_string(code).value_or(errc::io_error), msg});
    },
    [=](path_atom, const std::string& peer) { return diagnose(self, peer); },
    [=](readable_atom, std::uint64_t id) { drain(self, id); },
    [=](writable_atom, std::uint64_t id) {
      if (auto it = self->state.conns.find(id); it != self->state.conns.end()) it->second.blocked = false;
      flush(self, id);
    },
    [=](closed_atom, std::uint64_t id, const std::string& code, const std::string& why) {
      drain(self, id);  // frames sent before the close are still delivered
      fail_connection(self, id, error{errc_from_string(code).value_or(errc::connection_closed), why});
    },
    [=](status_atom) {
      auto& s = self->state;
      std::uint64_t waiting = 0, blocked = 0;
      for (auto& [id, e] : s.conns) {
        waiting += e.pending.size();
        blocked += e.blocked ? 1 : 0;
      }
      return caf::make_message(std::uint64_t{s.conns.size()}, s.sent, s.received, s.rejected, waiting, blocked,
                               s.deposited);
    },
  };
}

} // namespace

caf::actor spawn_routing(caf::actor_system& sys, routing_setup setup) {
  return sys.spawn(routing_actor, std::move(setup));
}

} // namespace aqua::actors
