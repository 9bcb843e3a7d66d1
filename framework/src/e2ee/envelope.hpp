#pragma once
// Private, sans-I/O: the envelope, aqua's end-to-end encrypted message
// format (docs/protocol/envelope.md). Only what relays need is outside the
// ciphertext: version, kind, recipient, message id, expiry and body size.

#include <array>

#include "aqua/identity.hpp"
#include "e2ee/primitives.hpp"

namespace aqua::e2ee {

inline constexpr std::uint8_t envelope_version = 1;
inline constexpr std::size_t message_id_size = 16;
inline constexpr std::size_t tag_size = 16;
inline constexpr std::size_t max_identity_block = 16 * 1024;
inline constexpr std::uint32_t no_one_time_prekey = 0xffffffff;

enum class envelope_kind : std::uint8_t { prekey = 1, session = 2 };

// Present on prekey envelopes: what the responder needs to derive the session.
struct prekey_block {
  key32 ephemeral{};
  std::uint32_t signed_prekey_id = 0;
  std::uint32_t one_time_prekey_id = no_one_time_prekey;
  bytes identity_block;  // AEAD(sender's signed card)
};

struct envelope {
  envelope_kind kind = envelope_kind::session;
  peer_id recipient;
  std::array<std::uint8_t, message_id_size> message_id{};
  std::int64_t expires_ms = 0;
  prekey_block prekey;  // kind == prekey only
  std::array<std::uint8_t, tag_size> tag{};
  bytes header;      // AEAD(ratchet header), ratchet_header_size + 16
  bytes ciphertext;  // AEAD(payload)
};

// The message id `hex` names (32 hex digits), else 16 random bytes.
std::array<std::uint8_t, message_id_size> message_id_or_random(const std::string& hex);

bytes encode_envelope(const envelope& e);
// The associated data every AEAD in the envelope binds: all outer fields,
// the prekey block and the tag (so nothing visible can be altered).
bytes envelope_ad(const envelope& e);
// Bounds-checked parse. Errors: bad_envelope (truncated / lengths / kind,
// with the field), unknown_version, frame_too_large (> max_body).
result<envelope> decode_envelope(bytes_view data, std::size_t max_body);
// Just the recipient, for routers and relays that never open envelopes.
result<peer_id> peek_recipient(bytes_view data);
// Just the message id (hex), e.g. to re-ack a retry whose key is spent.
result<std::string> peek_message_id(bytes_view data);
// Just the tag (16 bytes after the prekey block, if any), e.g. to tell whose
// copy a retry is when it no longer opens: a tag comes from a session's
// secret tag key, so only that session's peer (or a replay of its envelope)
// can carry it.
result<std::array<std::uint8_t, tag_size>> peek_tag(bytes_view data);

} // namespace aqua::e2ee
