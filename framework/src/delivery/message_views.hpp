#pragma once
// Private: the public views (aqua/node.hpp) of stored inbox and outbox records, shared by the mailbox actor
// (node::receive, node::outbox, ...) and the CLI reading the store without a daemon, so both show a record alike.

#include "aqua/node.hpp"
#include "delivery/outbox.hpp"
#include "delivery/records.hpp"

namespace aqua::delivery {

inbound_message to_inbound(const in_record& r);
outbound_message to_outbound(const out_record& r);

} // namespace aqua::delivery
