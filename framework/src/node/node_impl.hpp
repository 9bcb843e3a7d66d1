#pragma once
// Private: what a running node holds (node.cpp starts it; node_contacts.cpp
// and friends implement the rest of aqua::node on it).

#include <caf/all.hpp>

#include <chrono>
#include <mutex>
#include <optional>

#include "actors/protocol.hpp"
#include "node/actor_runtime.hpp"
#include "node/ask_bridge.hpp"
#include "aqua/node.hpp"
#include "contacts/contact_store.hpp"
#include "node/transport_host.hpp"
#include "store/store.hpp"

namespace aqua {

using actors::from_caf;

// No answer from the node's actors within `timeout` (ask, call, send_ticket::wait).
inline error no_answer(const std::string& node_name, std::chrono::milliseconds timeout) {
  return error{errc::timeout, "no answer from node " + node_name + " within " + std::to_string(timeout.count()) + " ms"};
}

// The outcome of a send_async: filled once by the mailbox's answer.
struct send_ticket::state {
  std::string node_name;  // for the timeout message
  node_detail::reply_slot<std::string> slot;
};

namespace node_detail {
// relay.serve with relay.mailbox: opens the relay's held mail and card directory in `db` and sets
// relay.mail and relay.add_services (node/relay_setup.cpp). Store errors.
result<void> add_relay_services(actors::relay_setup& relay, const node_config& cfg, std::shared_ptr<store::db> db);
} // namespace node_detail

struct node::impl {
  node_config cfg;
  peer_id self;
  std::shared_ptr<node_detail::actor_runtime> runtime;  // its own, or shared with other nodes (actor_runtime.hpp)
  caf::actor_system* system = nullptr;                  // runtime's
  std::shared_ptr<store::db> db;
  std::shared_ptr<contact_store> contacts;
  std::shared_ptr<node_transport_host> host;
  std::vector<std::pair<std::string, std::shared_ptr<transport>>> transports;  // for status (thread-safe calls)
  caf::actor identity, crypto, mailbox, relay, routing;
  caf::actor bridge;  // node_detail::spawn_ask_bridge: answers ask() without a scoped_actor
  caf::actor keeper;  // node_detail::spawn_card_keeper: renews the card
  std::vector<std::string> listen_addrs;
  // Our card: signed at start, replaced by each renewal (the keeper's thread) while card() reads it.
  struct card_slot {
    std::mutex mu;
    std::string text;
  };
  std::shared_ptr<card_slot> card = std::make_shared<card_slot>();
  bool stopped = false;

  // Signs and installs our first card (addresses: `listening`, what the transports listen on at start, and the
  // circuit addresses they add) and starts the card keeper (node_card.cpp).
  result<void> start_card(const std::vector<std::string>& listening);
  // The card's addresses: `base` and each transport's card_addresses().
  std::vector<std::string> card_addresses(std::vector<std::string> base) const;
  // What the transports listen on now, each address once (node::listen_addresses while running).
  std::vector<std::string> transport_addresses() const;

  // Looks up `to`'s card through the transports (relay_v2's card directory), checks it and adds it as an
  // unverified contact (node_discovery.cpp). not_found naming what each transport said; not_supported when
  // no transport looks up cards.
  result<contact> discover_card(const peer_id& to, const std::string& alias, std::chrono::milliseconds timeout);

  template <class T, class... Ts>
  result<T> ask(const caf::actor& who, std::chrono::milliseconds timeout, Ts&&... xs) {
    if (stopped) return error{errc::not_running, "node " + cfg.name + " is stopped"};
    auto slot = std::make_shared<node_detail::reply_slot<T>>();
    caf::anon_send(bridge, node_detail::ask_atom::value, who, caf::make_message(std::forward<Ts>(xs)...),
                   node_detail::reply_to<T>(slot));
    return wait(*slot, timeout);
  }

  // The mailbox's calls on the path of every message (send, next, watch,
  // await): the answer travels in the request and the mailbox fills it in
  // its own turn, without the bridge's hop (actors::answer).
  template <class T, class... Ts>
  result<T> call(const caf::actor& who, std::chrono::milliseconds timeout, Ts&&... xs) {
    if (stopped) return error{errc::not_running, "node " + cfg.name + " is stopped"};
    auto slot = std::make_shared<node_detail::reply_slot<T>>();
    caf::anon_send(who, std::forward<Ts>(xs)..., actors::answer<T>(node_detail::reply_to<T>(slot)));
    return wait(*slot, timeout);
  }

 private:
  template <class T>
  result<T> wait(node_detail::reply_slot<T>& slot, std::chrono::milliseconds timeout) {
    auto r = slot.wait_for(timeout);
    if (!r) return no_answer(cfg.name, timeout);
    return std::move(*r);
  }
};

} // namespace aqua
