#pragma once
// Private: the messages the component actors exchange (see
// docs/architecture.md). Only builtin CAF types and a few local-only types
// travel between actors; nothing here is serialised.

#include <caf/all.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "aqua/config.hpp"
#include "aqua/error.hpp"
#include "aqua/node.hpp"
#include "aqua/transport.hpp"
#include "contacts/contact_store.hpp"
#include "delivery/outbox.hpp"
#include "e2ee/engine.hpp"
#include "p2p/stream_service.hpp"
#include "store/engine_store.hpp"

namespace aqua::actors {

// identity
using sign_atom = caf::atom_constant<caf::atom("sign")>;
using whoami_atom = caf::atom_constant<caf::atom("whoami")>;
// crypto
using init_atom = caf::atom_constant<caf::atom("init")>;
using seal_atom = caf::atom_constant<caf::atom("seal")>;
using card_atom = caf::atom_constant<caf::atom("card")>;
using renew_atom = caf::atom_constant<caf::atom("renew")>;
// renew_atom's mode: when due (the card keeper's hourly check), now, or now with a new signed prekey.
inline constexpr std::int32_t renew_when_due = 0, renew_now = 1, renew_rotating = 2;
// routing
using send_atom = caf::atom_constant<caf::atom("send")>;
using listen_atom = caf::atom_constant<caf::atom("listen")>;
using incoming_atom = caf::atom_constant<caf::atom("incoming")>;
using readable_atom = caf::atom_constant<caf::atom("readable")>;
using writable_atom = caf::atom_constant<caf::atom("writable")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
// relay
using forward_atom = caf::atom_constant<caf::atom("forward")>;
using relay_atom = caf::atom_constant<caf::atom("relay")>;
// mailbox
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using frame_atom = caf::atom_constant<caf::atom("frame")>;
using bind_atom = caf::atom_constant<caf::atom("bind")>;
using learn_atom = caf::atom_constant<caf::atom("learnaddr")>;
using transmit_atom = caf::atom_constant<caf::atom("transmit")>;
using durable_atom = caf::atom_constant<caf::atom("durable")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using outbox_atom = caf::atom_constant<caf::atom("outbox")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using unread_atom = caf::atom_constant<caf::atom("unread")>;
using delete_atom = caf::atom_constant<caf::atom("delete")>;
using read_through_atom = caf::atom_constant<caf::atom("readthru")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using next_atom = caf::atom_constant<caf::atom("next")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using await_atom = caf::atom_constant<caf::atom("await")>;
using forward_done_atom = caf::atom_constant<caf::atom("fwd_done")>;
using held_atom = caf::atom_constant<caf::atom("held")>;
using reachable_atom = caf::atom_constant<caf::atom("reachable")>;
using ack_flush_atom = caf::atom_constant<caf::atom("ackflush")>;
using sent_flush_atom = caf::atom_constant<caf::atom("sentflush")>;
using watch_flush_atom = caf::atom_constant<caf::atom("wflush")>;
using deposit_atom = caf::atom_constant<caf::atom("deposit")>;
using path_atom = caf::atom_constant<caf::atom("path")>;

// A callback that runs exactly once: with the first result given to it, or
// with not_running (`dropped_why`) when the last copy is dropped without one
// (an actor that exits with the message still queued).
template <class T>
class once_callback {
 public:
  once_callback() = default;
  once_callback(std::function<void(result<T>)> fn, std::string dropped_why)
      : s_(std::make_shared<state>(std::move(fn), std::move(dropped_why))) {}
  void operator()(result<T> r) const {
    if (s_) s_->fire(std::move(r));
  }

 private:
  struct state {
    state(std::function<void(result<T>)> f, std::string why) : fn(std::move(f)), dropped_why(std::move(why)) {}
    ~state() { fire(error{errc::not_running, dropped_why}); }
    void fire(result<T> r) {
      std::call_once(once, [&] {
        if (fn) fn(std::move(r));
      });
    }
    std::function<void(result<T>)> fn;
    std::string dropped_why;
    std::once_flag once;
  };
  std::shared_ptr<state> s_;
};

// The answer to a node API call that the mailbox fills itself (send, next,
// watch, await: the calls on the path of every message). The caller sends it
// in the request and waits on it; the mailbox runs it in its own turn, so the
// caller's thread is woken at once — a response promise would go through a
// bridge actor, which CAF queues behind the work the same event starts (the
// ack's seal, a DH ratchet step: ~90 µs per message on 2 cores).
template <class T>
using answer = once_callback<T>;

// A frame's outcome (stored, or rejected for good), reported once.
class completion : public once_callback<void> {
 public:
  completion() = default;
  explicit completion(std::function<void(result<void>)> fn)
      : once_callback<void>(std::move(fn), "the node stopped before it took the frame") {}
};

// crypto (open_many): the mailbox opens the frames that arrived during one
// of its turns in one request, and writes their records with the engine
// changes of all of them in one batch.
struct open_request {
  bytes frame;
  std::string likely_sender;  // the peer the connection is bound to, or empty
  bool live = false;  // on a live connection bound to likely_sender: its costly opens count against its budgets
};
struct opened_message {
  std::optional<error> failure;  // set: the envelope did not open (the rest is empty)
  std::string sender, message_id, trust;
  bytes inner;
  bool quarantined = false;
  // A sender who is no contact, on its session's first (prekey) message: the addresses its signed card lists
  // (routing remembers them for the ack, routing/sender_addresses.hpp).
  std::vector<std::string> card_addresses;
};
using open_requests = std::vector<open_request>;
using opened_messages = std::vector<opened_message>;
using open_many_atom = caf::atom_constant<caf::atom("openmany")>;
using open_flush_atom = caf::atom_constant<caf::atom("openflush")>;

// crypto (seal_many): the sends queued during one turn of the mailbox are
// sealed with one request and made durable in one batch.
struct seal_request {
  std::string recipient;
  bytes inner;  // delivery::frame_message(...)
  std::uint64_t ttl_ms = 0;
  std::string id_hex;  // wanted message id, or empty for a random one
};
struct sealed_message {
  std::optional<error> failure;  // set: nothing was sealed (the rest is empty)
  bytes envelope;
  std::string message_id;
  std::int64_t expires_ms = 0;
};
using seal_requests = std::vector<seal_request>;
using sealed_messages = std::vector<sealed_message>;
using seal_many_atom = caf::atom_constant<caf::atom("sealmany")>;
using seal_flush_atom = caf::atom_constant<caf::atom("sealflush")>;

using connection_ptr = std::shared_ptr<connection>;
using message_list = std::vector<inbound_message>;
using outbox_list = std::vector<outbound_message>;

inline caf::error to_caf(const error& e) {
  return caf::error(static_cast<std::uint8_t>(e.code()), caf::atom("aqua"), caf::make_message(e.message()));
}

inline error from_caf(const caf::error& e) {
  if (e.category() == caf::atom("aqua")) {
    std::string msg;
    if (e.context().match_elements<std::string>()) msg = e.context().get_as<std::string>(0);
    return error{static_cast<errc>(e.code()), msg};
  }
  if (e == caf::sec::request_timeout) return error{errc::timeout, "request timed out"};
  return error{errc::not_running, "actor error: " + caf::to_string(e)};
}

// Spawn functions, one per component (each in its own .cpp).
struct keypair_holder;
caf::actor spawn_identity(caf::actor_system& sys, std::shared_ptr<keypair_holder> key);
struct crypto_setup {
  caf::actor identity;
  crypto_config cfg;
  std::shared_ptr<e2ee::engine> engine;  // loaded before spawning, so a corrupt state stops start-up
  std::shared_ptr<contact_store> contacts;
};
caf::actor spawn_crypto(caf::actor_system& sys, crypto_setup setup);
struct mailbox_setup {
  mailbox_config cfg;
  std::shared_ptr<store::db> db;
  caf::actor crypto;
  delivery::retry_policy retry;
  std::uint64_t default_ttl_ms = 86400000;  // crypto.default_ttl_s: the expiry of a message sealed later
  std::size_t max_inner = (1u << 20) + 1;   // the engine's max_payload: checked before a send is accepted
};
caf::actor spawn_mailbox(caf::actor_system& sys, mailbox_setup setup);
} // namespace aqua::actors
namespace aqua {
class node_transport_host;
namespace p2p {
class relay_server;
} // namespace p2p
namespace store {
class held_mail;
class card_directory;
} // namespace store
} // namespace aqua
namespace aqua::actors {
struct relay_setup {
  peer_id self;
  relay_config cfg;
  // The node's identity for the relay server (Noise, vouchers); kept alive by the actor.
  std::shared_ptr<aqua::node_transport_host> host;
  // Extra protocols the relay server offers (e.g. /aqua/mailbox/1.0.0); run on its loop thread.
  std::vector<p2p::stream_service> services;
  // Called with the relay server before it starts, for services that need its
  // loop (relay_server::post, every) and register with add_service.
  std::function<void(p2p::relay_server&)> add_services;
  // The relay's mailbox (relay.mailbox), for its figures in the status; null without one.
  std::shared_ptr<store::held_mail> mail;
  // Its card directory, for the count in the status; null without one.
  std::shared_ptr<store::card_directory> cards;
};
// (init) -> vector<string>: starts the relay server when cfg.serve (its addresses; empty otherwise).
// (status) -> relay_server_status. Also (forward, ...) / (fwd_done, ...) as before.
caf::actor spawn_relay(caf::actor_system& sys, relay_setup setup);
struct routing_setup {
  peer_id self;
  routing_config cfg;
  std::vector<std::pair<std::string, std::shared_ptr<transport>>> transports;  // name -> instance
  std::vector<transport_config> transport_configs;
  caf::actor mailbox;
  caf::actor relay;
  std::shared_ptr<transport_host> host;  // Noise sessions bound to our identity
  std::shared_ptr<contact_store> contacts;  // contact cards name addresses too
};
caf::actor spawn_routing(caf::actor_system& sys, routing_setup setup);

} // namespace aqua::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::connection_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::completion)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::path_diagnosis)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::message_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::inbound_message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::outbound_message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::outbox_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::store::ops)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::open_requests)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::seal_requests)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::sealed_messages)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::opened_messages)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::relay_server_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::answer<std::string>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::answer<aqua::inbound_message>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::answer<aqua::actors::message_list>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::actors::answer<aqua::outbound_message>)
