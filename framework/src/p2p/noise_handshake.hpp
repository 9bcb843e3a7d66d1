#pragma once
// Private: the libp2p /noise handshake (docs/protocol/noise.md), sans-I/O.
// Noise_XX_25519_ChaChaPoly_SHA256 with an empty prologue; each side
// authenticates a fresh X25519 static key with its Ed25519 identity:
//
//   message 1  -> e                empty payload
//   message 2  <- e, ee, s, es     responder's NoiseHandshakePayload
//   message 3  -> s, se            initiator's NoiseHandshakePayload
//
// Messages are returned and taken without framing. No sockets, threads or
// clocks (handshake timeouts are the caller's); randomness (the static and
// ephemeral X25519 keys) comes from the aqua::env at construction.
//
// Any failure of read_message() is final: the handshake stays failed and
// every later call returns the first error again.

#include <optional>
#include <string>
#include <vector>

#include "aqua/bytes.hpp"
#include "aqua/env.hpp"
#include "aqua/error.hpp"
#include "aqua/identity.hpp"
#include "identity/keypair.hpp"
#include "p2p/libp2p_key.hpp"
#include "p2p/noise_core.hpp"
#include "p2p/noise_transport.hpp"

namespace aqua::p2p {

// message NoiseExtensions { repeated bytes webtransport_certhashes = 1;
//                           repeated string stream_muxers = 2; }
struct noise_extensions {
  std::vector<bytes> webtransport_certhashes;
  std::vector<std::string> stream_muxers;
  bool operator==(const noise_extensions&) const = default;
};

// message NoiseHandshakePayload { bytes identity_key = 1; bytes identity_sig = 2;
//                                 NoiseExtensions extensions = 4; }
// identity_key is a protobuf libp2p PublicKey { KeyType Type = 1; bytes Data = 2; }.
struct noise_payload {
  bytes identity_key;
  bytes identity_sig;
  std::optional<noise_extensions> extensions;
  bool operator==(const noise_payload&) const = default;
};

// "noise-libp2p-static-key:" || the 32-byte X25519 static public key.
bytes noise_static_key_signing_input(bytes_view static_public_key);

bytes encode_noise_payload(const noise_payload& p);
// bad_frame when the protobuf is malformed (wrong wire type, truncated,
// identity_key/identity_sig repeated). Unknown fields are skipped.
result<noise_payload> decode_noise_payload(bytes_view pb);
// The peer the payload proves for `remote_static`: identity_key must be an
// Ed25519 PublicKey and identity_sig its signature over the signing input.
result<peer_id> verify_noise_payload(const noise_payload& p, bytes_view remote_static);

class noise_handshake {
 public:
  // `expected_remote`: the peer we dialled (/p2p/12D3KooW...). If the
  // responder proves another identity, read_message() fails with
  // errc::wrong_recipient before we send our own identity.
  static noise_handshake initiator(const keypair& identity, env& e, std::optional<peer_id> expected_remote = {});
  static noise_handshake responder(const keypair& identity, env& e);

  bool is_initiator() const noexcept { return xx_.who() == noise_detail::role::initiator; }
  bool our_turn() const noexcept { return !failed() && xx_.our_turn(); }
  bool complete() const noexcept { return !failed() && xx_.complete(); }
  bool failed() const noexcept { return failed_.has_value() || xx_.failed(); }

  // Our next handshake message (no length prefix), when our_turn().
  result<bytes> write_message();
  // The remote's next handshake message (no length prefix).
  result<void> read_message(bytes_view body);

  // The remote's verified identity: empty until its payload was verified
  // (initiator: after message 2, responder: after message 3).
  const peer_id& remote_peer() const noexcept { return remote_; }
  const noise_extensions& remote_extensions() const noexcept { return remote_ext_; }
  // The Noise handshake hash (32 bytes, for channel binding); empty until complete().
  bytes handshake_hash() const;
  // The transport keys, oriented for this side. Once, when complete().
  result<noise_transport> finish();

 private:
  noise_handshake(noise_detail::role r, const keypair& identity, env& e, std::optional<peer_id> expected);
  error fail(error e);

  noise_detail::xx_state xx_;
  bytes payload_;  // our signed NoiseHandshakePayload
  std::optional<peer_id> expected_;
  peer_id remote_;
  noise_extensions remote_ext_;
  std::optional<error> failed_;
};

} // namespace aqua::p2p
