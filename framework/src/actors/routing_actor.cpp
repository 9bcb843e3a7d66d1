// The routing actor: owns the transports and their connections. Outgoing:
// takes envelopes from the mailbox, picks or dials a connection, queues
// under backpressure. Incoming: drains connections, peeks each envelope's
// recipient, hands ours to the mailbox and others' to the relay path.

#include <spdlog/spdlog.h>

#include <deque>
#include <map>
#include <optional>

#include "actors/protocol.hpp"
#include "e2ee/card.hpp"
#include "e2ee/envelope.hpp"

#include <algorithm>

namespace aqua::actors {
namespace {

constexpr std::size_t max_pending_per_connection = 1024;
constexpr int max_frames_per_drain = 64;

void post(const caf::weak_actor_ptr& target, caf::message msg) {
  if (auto strong = target.lock()) caf::anon_send(caf::actor_cast<caf::actor>(strong), std::move(msg));
}

class conn_observer : public connection_observer {
 public:
  conn_observer(caf::weak_actor_ptr r, std::uint64_t id) : routing_(std::move(r)), id_(id) {}
  void on_readable() override { post(routing_, caf::make_message(readable_atom::value, id_)); }
  void on_writable() override { post(routing_, caf::make_message(writable_atom::value, id_)); }
  void on_closed(const error& why) override { post(routing_, caf::make_message(closed_atom::value, id_, why.message())); }

 private:
  caf::weak_actor_ptr routing_;
  std::uint64_t id_;
};

class accept_observer : public transport_observer {
 public:
  accept_observer(caf::weak_actor_ptr r, std::string name) : routing_(std::move(r)), name_(std::move(name)) {}
  void on_incoming(std::shared_ptr<connection> c) override {
    post(routing_, caf::make_message(incoming_atom::value, name_, connection_ptr(std::move(c))));
  }

 private:
  caf::weak_actor_ptr routing_;
  std::string name_;
};

struct pending_frame {
  bytes frame;
  std::optional<caf::response_promise> rp;  // answered true once handed to the transport
};

struct conn_entry {
  connection_ptr conn;
  std::string transport;
  std::string peer;  // empty until a verified frame or our dial names it
  std::deque<pending_frame> pending;
  bool blocked = false;
};

struct routing_state {
  routing_setup setup;
  std::map<std::uint64_t, conn_entry> conns;
  std::map<std::string, std::uint64_t> by_peer;
  std::map<std::string, std::string> routes;
  std::uint64_t next_id = 1;
  std::uint64_t sent = 0, received = 0, rejected = 0;
  static inline const char* name = "aqua.routing";

  // CAF destroys the state when the actor exits: close everything we own.
  ~routing_state() {
    for (auto& [id, e] : conns) e.conn->close();
    for (auto& [tname, t] : setup.transports) t->stop();
  }
};

using routing_actor_t = caf::stateful_actor<routing_state>;

std::uint64_t add_connection(routing_actor_t* self, connection_ptr c, std::string transport, std::string peer) {
  auto& st = self->state;
  auto id = st.next_id++;
  st.conns[id] = conn_entry{c, std::move(transport), peer, {}, false};
  if (!peer.empty()) st.by_peer[peer] = id;
  c->set_observer(std::make_shared<conn_observer>(caf::actor_cast<caf::weak_actor_ptr>(self), id));
  return id;
}

void drop_connection(routing_actor_t* self, std::uint64_t id, const error& why) {
  auto& st = self->state;
  auto it = st.conns.find(id);
  if (it == st.conns.end()) return;
  for (auto& p : it->second.pending)
    if (p.rp) p.rp->deliver(to_caf(why));
  if (!it->second.peer.empty()) {
    auto bp = st.by_peer.find(it->second.peer);
    if (bp != st.by_peer.end() && bp->second == id) st.by_peer.erase(bp);
  }
  it->second.conn->close();
  st.conns.erase(it);
}

// Where `peer` can be reached: the static route from the config first, then
// the addresses its contact card advertises (the shared contact store, so
// `aqua contacts add` takes effect without a restart).
std::vector<std::string> addresses_of(routing_actor_t* self, const std::string& peer) {
  auto& st = self->state;
  std::vector<std::string> out;
  if (auto route = st.routes.find(peer); route != st.routes.end()) out.push_back(route->second);
  auto id = peer_id::parse(peer);
  if (!st.setup.contacts || !id) return out;
  if (auto c = st.setup.contacts->find(*id))
    if (auto card = e2ee::decode_card(c->card))
      for (auto& a : card->addresses)
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  return out;
}

result<std::uint64_t> connection_for(routing_actor_t* self, const std::string& peer) {
  auto& st = self->state;
  if (auto it = st.by_peer.find(peer); it != st.by_peer.end()) {
    if (st.conns.count(it->second) && st.conns[it->second].conn->is_open()) return it->second;
    drop_connection(self, it->second, error{errc::connection_closed, "connection to " + peer + " closed"});
  }
  auto addresses = addresses_of(self, peer);
  if (addresses.empty())
    return error{errc::no_route, "no connection to " + peer +
                                   ", no route for it in components.routing.routes and no address in its contact card"};
  std::string failures;
  for (auto address : addresses) {
    // Network addresses name the peer (/p2p/ID), so the transport's
    // handshake refuses anyone else.
    if (address.find("/p2p/") == std::string::npos && address.rfind("/memory/", 0) != 0) address += "/p2p/" + peer;
    for (auto& [name, t] : st.setup.transports) {
      auto c = t->dial(address);
      if (c) return add_connection(self, *c, name, peer);
      failures += "; " + name + " " + address + ": " + c.err().what();
    }
  }
  return error{errc::connection_refused, "cannot reach " + peer + failures};
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
      drop_connection(self, id, r.err());
      return;
    }
    ++self->state.sent;
    if (p.rp) p.rp->deliver(true);
    e.pending.pop_front();
  }
}

void transmit(routing_actor_t* self, const std::string& peer, pending_frame p) {
  auto id = connection_for(self, peer);
  if (!id) {
    if (p.rp) p.rp->deliver(to_caf(id.err()));
    return;
  }
  auto& e = self->state.conns[*id];
  if (e.pending.size() >= max_pending_per_connection) {
    if (p.rp)
      p.rp->deliver(to_caf(error{errc::would_block, std::to_string(e.pending.size()) + " frames already queued for " + peer}));
    return;
  }
  e.pending.push_back(std::move(p));
  flush(self, *id);
}

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
        spdlog::warn("routing: dropped frame for {}: {}", recipient, from_caf(e).what());
      });
}

void handle_frame(routing_actor_t* self, std::uint64_t id, bytes frame) {
  auto transport = self->state.conns[id].transport;
  auto to = e2ee::peek_recipient(frame);
  if (!to) {
    ++self->state.rejected;
    spdlog::warn("routing: rejected frame on {}: {}", transport, to.err().what());
    return;
  }
  if (!(*to == self->state.setup.self)) {
    forward(self, std::move(frame), *to);
    return;
  }
  ++self->state.received;
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
            if (!r) return to_caf(error{r.err().code(), "transport '" + name + "' cannot listen on " + addr + ": " + r.err().message()});
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
      add_connection(self, c, transport, peer.empty() ? std::string() : peer.str());
    },
    // An envelope for `peer` (from the mailbox): true once the transport has it.
    [=](transmit_atom, const std::string& peer, bytes& envelope) -> caf::result<bool> {
      auto rp = self->make_response_promise();
      transmit(self, peer, pending_frame{std::move(envelope), rp});
      return caf::delegated<bool>();
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
    [=](readable_atom, std::uint64_t id) { drain(self, id); },
    [=](writable_atom, std::uint64_t id) {
      if (auto it = self->state.conns.find(id); it != self->state.conns.end()) it->second.blocked = false;
      flush(self, id);
    },
    [=](closed_atom, std::uint64_t id, const std::string& why) {
      drain(self, id);  // frames sent before the close are still delivered
      drop_connection(self, id, error{errc::connection_closed, why});
    },
    [=](status_atom) {
      auto& s = self->state;
      std::uint64_t waiting = 0, blocked = 0;
      for (auto& [id, e] : s.conns) {
        waiting += e.pending.size();
        blocked += e.blocked ? 1 : 0;
      }
      return caf::make_message(std::uint64_t{s.conns.size()}, s.sent, s.received, s.rejected, waiting, blocked);
    },
  };
}

} // namespace

caf::actor spawn_routing(caf::actor_system& sys, routing_setup setup) {
  return sys.spawn(routing_actor, std::move(setup));
}

} // namespace aqua::actors
