#pragma once
// Private: whether a stored value decodes as the delivery record its key names
// (docs/storage.md: o/ outbox, i/ inbox, d/ dedup). A record that does not
// decode (written by a newer aqua, or damaged) is skipped by the mailbox, so
// its message is neither retried nor handed out: the mailbox warns at start,
// and `aqua store check` names each such key.

#include <optional>
#include <string_view>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"

namespace aqua::delivery {

// The decode error of the record at `key`; nullopt when it decodes or when the key is not an o/, i/ or d/ record.
std::optional<error> check_record(std::string_view key, bytes_view value);

} // namespace aqua::delivery
