#pragma once
// Private: what a running node holds (node.cpp starts it; node_contacts.cpp
// and friends implement the rest of aqua::node on it).

#include <caf/all.hpp>

#include <chrono>
#include <optional>

#include "actors/protocol.hpp"
#include "aqua/node.hpp"
#include "contacts/contact_store.hpp"
#include "node/transport_host.hpp"
#include "store/store.hpp"

namespace aqua {

using actors::from_caf;

struct node::impl {
  node_config cfg;
  peer_id self;
  caf::actor_system_config sys_cfg;
  std::unique_ptr<caf::actor_system> system;
  std::shared_ptr<store::db> db;
  std::shared_ptr<contact_store> contacts;
  std::shared_ptr<node_transport_host> host;
  std::vector<std::pair<std::string, std::shared_ptr<transport>>> transports;  // for status (thread-safe calls)
  caf::actor identity, crypto, mailbox, relay, routing;
  std::vector<std::string> listen_addrs;
  std::string card;
  bool stopped = false;

  template <class T, class... Ts>
  result<T> ask(const caf::actor& who, std::chrono::milliseconds timeout, Ts&&... xs) {
    if (stopped) return error{errc::not_running, "node " + cfg.name + " is stopped"};
    caf::scoped_actor sa{*system};
    std::optional<result<T>> out;
    sa->request(who, timeout, std::forward<Ts>(xs)...)
      .receive([&](T& v) { out.emplace(std::move(v)); },
               [&](const caf::error& e) { out.emplace(from_caf(e)); });
    return std::move(*out);
  }
};

} // namespace aqua
