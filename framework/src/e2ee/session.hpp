#pragma once
// Private, sans-I/O: one end-to-end session with a peer (X3DH-derived keys +
// double ratchet + per-message rotating tags), and its versioned encoding
// (docs/protocol/sessions.md).

#include <set>

#include "aqua/identity.hpp"
#include "e2ee/envelope.hpp"
#include "e2ee/ratchet.hpp"

namespace aqua::e2ee {

inline constexpr std::uint8_t session_state_version = 1;

using tag_bytes = std::array<std::uint8_t, tag_size>;

struct session {
  std::uint64_t id = 0;
  public_key peer_identity;
  key32 peer_agreement{};
  bool initiator = false;
  bool send_prekey = false;  // initiator: until the first reply arrives
  prekey_block prekey;       // what prekey envelopes carry (initiator)
  key32 ephemeral{};         // X3DH ephemeral: names the session on both sides
  key32 hk_send{}, hk_recv{}, tag_send{}, tag_recv{};
  std::uint64_t send_seq = 0;   // per-direction message sequence S
  std::uint64_t recv_high = 0;  // every S below this was received or is in recv_missing
  std::set<std::uint64_t> recv_missing;
  std::int64_t created_ms = 0;
  std::int64_t last_recv_ms = 0;
  ratchet r;

  peer_id peer() const { return peer_id::from_public_key(peer_identity); }
};

// tag(S) = BLAKE2b-128(key = tag_key, "aqua-tag-v1" || u64 S)
tag_bytes message_tag(const key32& tag_key, std::uint64_t seq);
// Header AEAD nonce: 4 zero bytes || u64 S
std::array<std::uint8_t, aead_nonce_size> header_nonce(std::uint64_t seq);

// From the X3DH secret: root key, then per-direction header and tag keys.
// Directions are named from the initiator's point of view.
struct session_keys {
  key32 root{}, hk_i2r{}, hk_r2i{}, tag_i2r{}, tag_r2i{};
};
session_keys derive_session_keys(const key32& x3dh_secret);

void encode_session(const session& s, bytes& out);
result<session> decode_session(codec::reader& r);

} // namespace aqua::e2ee
