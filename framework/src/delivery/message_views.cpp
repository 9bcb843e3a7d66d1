#include "delivery/message_views.hpp"

namespace aqua::delivery {

inbound_message to_inbound(const in_record& r) {
  inbound_message m;
  m.sequence = r.seq;
  if (auto id = peer_id::parse(r.sender)) m.sender = *id;
  m.message_id = r.message_id;
  m.payload = r.payload;
  m.transport = r.transport;
  m.trust = r.trust;
  m.quarantined = r.quarantined;
  m.received_unix_ms = r.received_ms;
  m.topic = r.topic;
  m.read = r.state == in_state::read;
  return m;
}

outbound_message to_outbound(const out_record& r) {
  outbound_message m;
  m.message_id = r.message_id;
  if (auto id = peer_id::parse(r.recipient)) m.recipient = *id;
  m.state = std::string(to_string(r.state));
  m.attempts = r.attempts;
  m.created_unix_ms = r.created_ms;
  m.expires_unix_ms = r.expires_ms;
  m.delivered_unix_ms = r.delivered_ms;
  m.last_error = r.last_error;
  return m;
}

} // namespace aqua::delivery
