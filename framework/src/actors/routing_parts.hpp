#pragma once
// Private: the routing actor's state (routing_actor.cpp: behaviour, frames
// in; routing_paths.cpp: connections and the path choice, frames out).

#include <deque>
#include <map>
#include <optional>

#include "core/log_limit.hpp"
#include "actors/protocol.hpp"
#include "routing/deposit_memory.hpp"
#include "routing/sender_addresses.hpp"
#include "routing/path_table.hpp"

namespace aqua::actors {

inline constexpr std::size_t max_pending_per_connection = 1024;
inline constexpr int max_frames_per_drain = 64;
inline constexpr std::uint32_t max_reroutes = 4;
// A dialled connection the peer has not answered on for this long is
// suspect: new frames also try the next path (happy eyeballs; the
// receiver's dedup makes the copies harmless).
inline constexpr std::int64_t suspect_after_ms = 3000;
inline constexpr std::uint32_t mailbox_ttl_s = 7 * 86400;  // the relay also caps it by the envelope's expiry

inline void post(const caf::weak_actor_ptr& target, caf::message msg) {
  if (auto strong = target.lock()) caf::anon_send(caf::actor_cast<caf::actor>(strong), std::move(msg));
}

class conn_observer : public connection_observer {
 public:
  conn_observer(caf::weak_actor_ptr r, std::uint64_t id) : routing_(std::move(r)), id_(id) {}
  void on_readable() override { post(routing_, caf::make_message(readable_atom::value, id_)); }
  void on_writable() override { post(routing_, caf::make_message(writable_atom::value, id_)); }
  // The code travels by name (CAF does not know errc): a refused identity
  // stays wrong_recipient in the path table and doctor's report.
  void on_closed(const error& why) override {
    post(routing_, caf::make_message(closed_atom::value, id_, std::string(to_string(why.code())), why.message()));
  }

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
  std::optional<caf::response_promise> rp;  // answered true once handed to the transport (or a mailbox)
  std::uint32_t reroutes = 0;               // times its connection failed under it
  // The peer answers it (a message: with an ack). An ack expects nothing
  // back, so it does not start the suspect clock (unanswered_since_ms): a
  // connection whose last frame was an ack is not suspect 3 s later.
  bool expects_answer = true;
  // A live connection refused it as too large (a relay circuit's data limit): only a mailbox can take it.
  bool mailbox_only = false;
};

struct conn_entry {
  connection_ptr conn;
  std::string transport;
  std::string peer;  // empty until a verified frame or our dial names it
  std::deque<pending_frame> pending;
  bool blocked = false;
  std::string address;    // what we dialled (empty: the peer dialled us)
  bool answered = false;  // the peer sent a frame on it: the address works
  std::int64_t opened_ms = 0;
  // When we first sent on it after the peer's last frame on it (0: the peer has
  // answered everything so far). A dialled connection silent that long is
  // suspect (suspect_after_ms), even if it once worked: ZeroMQ keeps
  // reconnecting a dialled socket to an address the peer left for good.
  std::int64_t unanswered_since_ms = 0;
  std::int64_t heard_ms = 0;  // when the peer last sent a frame on it, or authenticated it (accepted; 0: never)
};

// A deposit on a relay mailbox in flight: tried transport by transport,
// address by address, until one stores it.
struct deposit_job {
  std::string peer;
  pending_frame p;
  std::vector<std::string> addresses;
  std::size_t next = 0;  // index into addresses x transports
  std::string failures;
};

struct routing_state {
  routing_setup setup;
  bool can_relay = false;  // a transport dials relayed addresses (relay_v2): set at start from setup.transports
  std::map<std::uint64_t, conn_entry> conns;
  std::map<std::string, std::uint64_t> by_peer;
  std::map<std::string, std::string> routes;
  std::uint64_t next_id = 1;
  std::uint64_t sent = 0, received = 0, rejected = 0, deposited = 0;
  routing::path_table paths;
  std::map<std::uint64_t, deposit_job> deposits;
  std::uint64_t next_deposit = 1;
  // Envelopes a relay mailbox confirmed holding: the outbox's retries of an
  // offline peer's message do not deposit it again (routing/deposit_memory.hpp).
  routing::deposit_memory held_by_relays;
  // Where senders who are no contacts said (in their cards) they can be reached: a path for their acks.
  routing::sender_addresses senders;
  log_limit peer_log;  // lines about frames peers sent that were rejected or dropped (core/log_limit.hpp)
  static inline const char* name = "aqua.routing";

  // CAF destroys the state when the actor exits: close everything we own.
  ~routing_state() {
    for (auto& [id, e] : conns) e.conn->close();
    for (auto& [tname, t] : setup.transports) t->stop();
  }
};

using routing_actor_t = caf::stateful_actor<routing_state>;

std::int64_t routing_now_ms();
std::uint64_t add_connection(routing_actor_t* self, connection_ptr c, std::string transport, std::string peer,
                             std::string address = {});
// Closes connection `id`; frames still queued on it take the next path.
void fail_connection(routing_actor_t* self, std::uint64_t id, const error& why);
void flush(routing_actor_t* self, std::uint64_t id);
// Sends `p` to `peer`: an open connection, else the first live path that
// dials (direct, then relayed), else a relay mailbox; else answers the error.
void transmit(routing_actor_t* self, const std::string& peer, pending_frame p);
// A transport finished deposit `token` (result posted back to the actor).
void deposit_done(routing_actor_t* self, std::uint64_t token, const result<void>& r);
// Where `peer` can be reached, in preference order.
std::vector<std::string> addresses_of(routing_actor_t* self, const std::string& peer);
path_diagnosis diagnose(routing_actor_t* self, const std::string& peer);

} // namespace aqua::actors
