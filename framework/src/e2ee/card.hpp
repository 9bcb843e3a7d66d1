#pragma once
// Private, sans-I/O: signed contact cards (docs/protocol/cards.md).
//
// A card binds a peer ID (its Ed25519 key) to an X25519 agreement key, a
// signed prekey, optional one-time prekeys, addresses and capabilities, for
// a validity window. The canonical body is signed with the identity key:
//   signature = Ed25519("aqua-card-v1" || body)

#include <cstdint>
#include <string>
#include <vector>

#include "aqua/identity.hpp"
#include "e2ee/primitives.hpp"

namespace aqua::e2ee {

inline constexpr std::uint8_t card_version = 1;
inline constexpr std::size_t max_card_addresses = 16;
inline constexpr std::size_t max_card_address_length = 256;
inline constexpr std::size_t max_card_one_time_prekeys = 100;
inline constexpr std::size_t max_card_capabilities = 32;
inline constexpr std::size_t max_card_capability_length = 64;
inline constexpr std::int64_t max_clock_skew_ms = 5 * 60 * 1000;
inline constexpr std::string_view card_text_prefix = "aqua-card-v1:";

struct one_time_prekey {
  std::uint32_t id = 0;
  key32 pub{};
};

struct contact_card {
  public_key identity;
  key32 agreement_key{};  // long-term X25519 key (X3DH "IK" for DH)
  std::uint32_t signed_prekey_id = 0;
  key32 signed_prekey{};
  std::vector<std::string> addresses;
  std::vector<one_time_prekey> one_time_prekeys;
  std::vector<std::string> capabilities;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  bytes signature;  // 64 bytes once signed

  peer_id id() const { return peer_id::from_public_key(identity); }
};

// What a card of ours may advertise, checked before it is signed: at most 16
// multiaddrs of up to 256 bytes, at most 32 capabilities of [a-z0-9._/-]{1,64}.
// invalid_argument naming the offending value (decode_card's bad_card would
// only name a byte offset in the encoding).
result<void> check_card_fields(const std::vector<std::string>& addresses, const std::vector<std::string>& capabilities);

// The canonical body the signature covers (without the context string).
bytes card_body(const contact_card& c);
bytes card_signing_input(const contact_card& c);
bytes encode_card(const contact_card& c);  // body || signature

// Parses and bounds-checks; errors: bad_card (+ what and where),
// unknown_version (addresses that are not multiaddrs are bad_card too).
// Does not check signature or time.
result<contact_card> decode_card(bytes_view data);
// decode + signature + validity window at `now_ms`:
// bad_card_signature, card_expired, bad_card (created in the future).
result<contact_card> verify_card(bytes_view data, std::int64_t now_ms);

// "aqua-card-v1:<base64url>" text form, for sharing by copy/paste.
std::string card_to_text(const contact_card& c);
result<bytes> card_from_text(std::string_view text);

// Short safety code both sides compare (like Signal safety numbers):
// 12 groups of 5 digits from SHA-512 over both identity keys, sorted.
std::string safety_code(const public_key& a, const public_key& b);

} // namespace aqua::e2ee
