// The relay actor: owns the node's circuit relay v2 server (relay.serve,
// docs/relay.md) and the in-flight budget for aqua frames forwarded for
// other peers. The server runs on its own I/O thread (p2p::relay_server);
// the actor starts it on (init), stops it when the actor exits, and turns
// its statistics into relay_server_status.

#include <spdlog/spdlog.h>

#include "actors/protocol.hpp"
#include "node/transport_host.hpp"
#include "p2p/relay_server.hpp"
#include "store/card_directory.hpp"
#include "store/held_mail.hpp"

namespace aqua::actors {
namespace {

p2p::relay_server_config server_config(const relay_config& c, std::vector<p2p::stream_service> services) {
  p2p::relay_server_config s;
  s.listen = c.listen;
  s.announce = c.announce;
  s.max_connections = c.max_connections;
  s.max_connections_per_ip = c.max_connections_per_ip;
  s.new_connections_per_ip_per_s = c.new_connections_per_ip_per_s;
  s.hop.max_reservations = c.max_reservations;
  s.hop.max_reservations_per_ip = c.max_reservations_per_ip;
  s.hop.max_circuits = c.max_circuits_per_peer;
  s.hop.reservation_ttl_ms = std::int64_t{c.reservation_ttl_s} * 1000;
  s.hop.limited = c.circuit_duration_s != 0 || c.circuit_data_bytes != 0;
  s.hop.limit_duration_s = c.circuit_duration_s;
  s.hop.limit_data = c.circuit_data_bytes;
  s.hop.max_connects_per_window = c.max_connects_per_minute;
  s.hop.connect_window_ms = 60 * 1000;
  s.ping_interval_ms = std::int64_t{c.ping_interval_s} * 1000;
  s.ping_timeout_ms = std::int64_t{c.ping_timeout_s} * 1000;
  s.services = std::move(services);
  return s;
}

struct relay_state {
  peer_id self;
  relay_config cfg;
  std::shared_ptr<node_transport_host> host;  // the identity outlives the server
  std::vector<p2p::stream_service> services;
  std::function<void(p2p::relay_server&)> add_services;
  std::shared_ptr<store::held_mail> mail;
  std::shared_ptr<store::card_directory> cards;
  std::unique_ptr<p2p::relay_server> server;  // stopped (thread joined) when the state dies
  std::uint32_t in_flight = 0;
  std::uint64_t forwarded = 0;
  std::uint64_t refused = 0;
  static inline const char* name = "aqua.relay";
};

relay_server_status status_of(p2p::relay_server& rs, const store::held_mail* mail) {
  const auto s = rs.stats();
  relay_server_status out;
  out.serving = true;
  out.addresses = s.addresses;
  out.connections = s.connections;
  out.reservations = s.hop.reservations;
  out.circuits = s.hop.circuits;
  out.reservations_granted = s.hop.reservations_granted;
  out.reservations_refused = s.hop.reservations_refused;
  out.connects_granted = s.hop.connects_granted;
  out.connects_refused = s.hop.connects_refused;
  out.bytes_relayed = s.bytes_relayed;
  out.hop_refused = s.hop_refused;
  out.circuits_limited = s.circuits_data_limited + s.circuits_duration_limited;
  out.service_streams = s.service_streams;
  if (mail) {
    const auto m = mail->stats();
    out.mailbox = true;
    out.mail_held = m.messages;
    out.mail_held_bytes = m.bytes;
    out.mail_recipients = m.recipients;
    out.mail_stored = m.stored;
    out.mail_duplicates = m.duplicates;
    out.mail_refused = m.refused;
    out.mail_delivered = m.acked;
    out.mail_expired = m.expired;
  }
  return out;
}

caf::behavior relay_actor(caf::stateful_actor<relay_state>* self, relay_setup setup) {
  self->state.self = std::move(setup.self);
  self->state.cfg = setup.cfg;
  self->state.host = std::move(setup.host);
  self->state.services = std::move(setup.services);
  self->state.add_services = std::move(setup.add_services);
  self->state.mail = std::move(setup.mail);
  self->state.cards = std::move(setup.cards);
  return {
    // Starts the relay server (relay.serve); its addresses, or the start error.
    [=](init_atom) -> caf::result<std::vector<std::string>> {
      auto& st = self->state;
      if (!st.cfg.serve) return std::vector<std::string>{};
      if (st.server) return st.server->addresses();
      if (!st.host) return to_caf(error{errc::invalid_argument, "relay: no identity for the relay server"});
      auto rs = std::make_unique<p2p::relay_server>(st.host->identity(), system_env(),
                                                    server_config(st.cfg, std::move(st.services)));
      if (st.add_services) st.add_services(*rs);
      if (auto r = rs->start(); !r) return to_caf(r.err());
      st.server = std::move(rs);
      return st.server->addresses();
    },
    // Routing asks: may I forward this frame to `recipient`? -> true, or an error.
    [=](forward_atom, const std::string& recipient, std::uint64_t size) -> caf::result<bool> {
      auto& st = self->state;
      if (!st.cfg.serve) {
        ++st.refused;
        return to_caf(error{errc::wrong_recipient, "frame for " + recipient + " reached " + st.self.str() +
                                                       ", which does not relay (relay.serve: false)"});
      }
      if (st.in_flight >= st.cfg.max_forward_frames) {
        ++st.refused;
        return to_caf(error{errc::would_block, "relay budget of " + std::to_string(st.cfg.max_forward_frames) +
                                                   " in-flight frames exhausted"});
      }
      ++st.in_flight;
      spdlog::debug("relay: forwarding {} bytes to {}", size, recipient);
      return true;
    },
    [=](forward_done_atom, bool delivered) {
      auto& st = self->state;
      if (st.in_flight > 0) --st.in_flight;
      if (delivered) ++st.forwarded; else ++st.refused;
    },
    [=](status_atom) -> std::uint64_t { return self->state.forwarded; },
    [=](status_atom, relay_atom) -> relay_server_status {
      auto& st = self->state;
      if (!st.server) return relay_server_status{};
      auto out = status_of(*st.server, st.mail.get());
      if (st.cards) out.cards_held = st.cards->size();
      return out;
    },
  };
}

} // namespace

caf::actor spawn_relay(caf::actor_system& sys, relay_setup setup) { return sys.spawn(relay_actor, std::move(setup)); }

} // namespace aqua::actors
