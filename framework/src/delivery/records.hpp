#pragma once
// Private: the inner payload framing carried inside envelopes, and the
// store records of the inbox and dedup index (docs/protocol/delivery.md,
// docs/storage.md).

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "aqua/bytes.hpp"

namespace aqua::delivery {

// Inside the ciphertext: 0x01 || app payload, 0x02 || u16 n || n x 16-byte
// message ids, or 0x03 || u8 topic length (1..255) || topic || app payload.
inline constexpr std::uint8_t inner_message = 0x01;
inline constexpr std::uint8_t inner_ack = 0x02;
inline constexpr std::uint8_t inner_topic_message = 0x03;
inline constexpr std::size_t max_ack_ids = 1024;
inline constexpr std::size_t max_topic = 255;

// An empty topic gives the plain 0x01 form.
bytes frame_message(bytes_view payload, const std::string& topic = {});
bytes frame_ack(const std::vector<std::string>& message_ids_hex);
struct inner {
  std::uint8_t type = 0;          // inner_message (also for 0x03) or inner_ack
  bytes payload;                   // message
  std::string topic;               // message, may be empty
  std::vector<std::string> acked;  // ack: hex ids
};
// errc::bad_envelope for an unknown type or malformed ack.
result<inner> parse_inner(bytes_view data);

enum class in_state : std::uint8_t { unread = 1, read = 2 };

struct in_record {
  std::uint64_t seq = 0;
  std::string message_id;  // hex
  std::string sender;      // peer ID
  std::int64_t received_ms = 0;
  in_state state = in_state::unread;
  std::string trust;
  bool quarantined = false;
  std::string transport;
  bytes payload;
  std::string topic;
  bytes encode() const;
  // Reads version 1 (no topic) and version 2 records.
  static result<in_record> decode(bytes_view data);
};

// `meta/inbox_seq` (docs/storage.md): the highest inbox sequence number ever assigned (u64 big-endian), written
// with every delete, so a restart never gives a deleted newest message's number to the next one (a watcher
// resuming `since` that number would skip it).
inline const std::string inbox_seq_key = "meta/inbox_seq";
bytes encode_inbox_seq(std::uint64_t highest);
// nullopt unless exactly 8 bytes below UINT64_MAX.
std::optional<std::uint64_t> decode_inbox_seq(bytes_view data);

// d/<message id>/<sender peer ID> (dedup_key): where a delivered message
// went, so duplicates are re-acked. Records written before the dedup index was
// keyed by sender live under d/<message id> and are moved at load.
struct dedup_record {
  std::uint64_t seq = 0;
  std::string sender;
  std::int64_t seen_ms = 0;
  // The envelope's tag (docs/protocol/envelope.md): a copy that no longer opens
  // is this sender's copy only if it carries the same tag. Empty in version 1
  // records (written before the tag was kept).
  std::optional<std::array<std::uint8_t, 16>> tag;
  bytes encode() const;
  // Reads version 1 (no tag) and version 2 records.
  static result<dedup_record> decode(bytes_view data);
};
inline const std::string dedup_prefix = "d/";
// "d/<message id>/<sender>": the records of one id sort together (dedup_prefix + id + "/").
inline std::string dedup_key(const std::string& sender, const std::string& message_id) {
  return dedup_prefix + message_id + "/" + sender;
}

} // namespace aqua::delivery
