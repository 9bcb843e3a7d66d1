// The relay server's own protocols (relay.serve with relay.mailbox): the
// network mailbox (/aqua/mailbox/1.0.0, docs/protocol/mailbox.md) and the
// card directory (/aqua/card/1.0.0, docs/protocol/card-directory.md), both
// over the node's store.

#include "aqua/env.hpp"
#include "node/node_impl.hpp"
#include "p2p/card_service.hpp"
#include "p2p/mailbox_service.hpp"
#include "p2p/relay_server.hpp"
#include "store/card_directory.hpp"
#include "store/held_mail.hpp"

namespace aqua::node_detail {

result<void> add_relay_services(actors::relay_setup& relay, const node_config& cfg, std::shared_ptr<store::db> db) {
  if (!cfg.relay.serve || !cfg.relay.mailbox) return ok();
  auto mail = store::held_mail::open(db, store::limits_of(cfg.relay));
  if (!mail) return mail.err();
  auto cards = store::card_directory::open(db);
  if (!cards) return cards.err();
  std::shared_ptr<store::held_mail> held = std::move(*mail);
  std::shared_ptr<store::card_directory> directory = std::move(*cards);
  relay.mail = held;
  relay.cards = directory;
  p2p::mailbox_service_config mc;
  mc.max_incomplete_bytes_per_peer = cfg.relay.mailbox_max_incomplete_bytes_per_peer;
  mc.max_incomplete_bytes_total = cfg.relay.mailbox_max_incomplete_bytes_total;
  mc.max_storing_bytes_per_peer = cfg.relay.mailbox_max_incomplete_bytes_per_peer;
  mc.max_storing_bytes_total = cfg.relay.mailbox_max_incomplete_bytes_total;
  mc.incomplete_timeout_ms = std::int64_t{cfg.relay.mailbox_incomplete_timeout_s} * 1000;
  relay.add_services = [held, directory, mc](p2p::relay_server& rs) {
    auto post = [&rs](std::function<void()> fn) { return rs.post(std::move(fn)); };
    auto mb = p2p::mailbox_service::create(held, system_env(), post, mc);
    rs.every(mb->config().sweep_interval_ms, [mb] { mb->sweep(); });
    rs.every(mb->config().reap_interval_ms, [mb] { mb->reap(); });
    rs.add_service(mb->service());
    auto cs = p2p::card_service::create(directory, system_env(), post, mc.incomplete_timeout_ms);
    rs.every(p2p::card_service::sweep_interval_ms, [cs] { cs->sweep(); });
    rs.every(p2p::card_service::reap_interval_ms, [cs] { cs->reap(); });
    rs.add_service(cs->service());
  };
  return ok();
}

} // namespace aqua::node_detail
