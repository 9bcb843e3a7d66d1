#pragma once
// Private: libp2p signed envelopes (libp2p/specs RFC 0002) with Ed25519 keys,
// and the circuit relay v2 reservation voucher carried in one.
//
//   Envelope { PublicKey public_key = 1; bytes payload_type = 2; bytes payload = 3; bytes signature = 5 }
//   PublicKey { KeyType Type = 1 (Ed25519 = 1); bytes Data = 2 (32 bytes) }
//   signed bytes = uvarint(len(domain)) || domain || uvarint(len(payload_type)) || payload_type
//                  || uvarint(len(payload)) || payload
//
//   Voucher { bytes relay = 1; bytes peer = 2; uint64 expiration = 3 (unix seconds) }
//   domain "libp2p-relay-rsvp", payload_type = the two bytes 03 02 (multicodec
//   0x0302 written big-endian, exactly as go-libp2p's RecordCodec and
//   js-libp2p's ReservationVoucherRecord.codec; not its uvarint 82 06).
//
// The domain is not on the wire: a wrong domain shows as a bad signature.

#include <array>
#include <cstdint>
#include <string_view>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"
#include "aqua/identity.hpp"
#include "identity/keypair.hpp"

namespace aqua::p2p {

struct signed_envelope {
  public_key key;  // the signer (Ed25519)
  bytes payload_type;
  bytes payload;
  bytes signature;
};

// The bytes the signature covers.
bytes envelope_signing_input(std::string_view domain, bytes_view payload_type, bytes_view payload);

// Signs and encodes an envelope (fields 1, 2, 3, 5 in order).
bytes seal_envelope(const keypair& signer, std::string_view domain, bytes_view payload_type, bytes_view payload);

// Decodes without verifying. bad_frame: malformed protobuf or a missing
// field; wrong_key_type: a non-Ed25519 key (RSA, secp256k1, ECDSA peers);
// wrong_key_length. Unknown fields are skipped.
result<signed_envelope> decode_envelope(bytes_view in);
bytes encode_envelope(const signed_envelope& e);

// Decodes and verifies under `domain`; bad_signature when the signature
// does not verify (also for a different domain), bad_frame when the payload
// type differs from `expected_type`.
result<signed_envelope> open_envelope(bytes_view in, std::string_view domain, bytes_view expected_type);

// ---- relay v2 reservation vouchers ----

inline constexpr std::string_view voucher_domain = "libp2p-relay-rsvp";
inline constexpr std::array<std::uint8_t, 2> voucher_payload_type = {0x03, 0x02};

struct voucher {
  peer_id relay;
  peer_id peer;
  std::uint64_t expiration = 0;  // unix seconds, the reservation's expire
  bool operator==(const voucher&) const = default;
};

// Canonical payload: relay, peer, expiration (always written).
bytes encode_voucher(const voucher& v);
// bad_frame for malformed input or missing relay/peer; the peer IDs must be
// Ed25519 peer IDs (peer_id::from_bytes errors otherwise).
result<voucher> decode_voucher(bytes_view payload);

// The signed envelope a relay hands out in Reservation.voucher.
bytes make_voucher(const keypair& relay, const peer_id& peer, std::uint64_t expiration);

// Opens a voucher from `expected_relay`: the envelope must verify under
// voucher_domain with voucher_payload_type, be signed by the relay it names
// (bad_signature otherwise), name `expected_relay` (wrong_recipient
// otherwise) and not be expired at `now_unix_ms` (message_expired when
// expiration * 1000 <= now). The caller checks voucher.peer against itself.
result<voucher> open_voucher(bytes_view envelope, const peer_id& expected_relay, std::int64_t now_unix_ms);

} // namespace aqua::p2p
