#pragma once
// Private, sans-I/O: the libp2p PublicKey protobuf { KeyType Type = 1;
// bytes Data = 2; } for Ed25519 keys, as the Noise handshake payload
// (identity_key) and signed envelopes (public_key) carry it.

#include "aqua/identity.hpp"

namespace aqua::p2p {

// PublicKey { Type = Ed25519, Data = key } (36 bytes).
bytes encode_libp2p_public_key(const public_key& key);
// wrong_key_type for RSA/Secp256k1/ECDSA, wrong_key_length,
// bad_public_key_encoding (not a protobuf, a field missing, repeated or of
// the wrong wire type). Unknown fields are skipped. Messages start with
// "PublicKey"; callers prefix where the key came from.
result<public_key> decode_libp2p_public_key(bytes_view pb);

} // namespace aqua::p2p
