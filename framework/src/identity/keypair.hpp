#pragma once
// Private: an Ed25519 key pair. Secret bytes live in sodium_malloc'd,
// mlock'd memory that is wiped on destruction; they are never formatted
// into logs. Inside a running node only the identity actor owns one.

#include <memory>

#include "aqua/identity.hpp"

namespace aqua {

// The name of a libp2p KeyType value (0 RSA, 1 Ed25519, 2 Secp256k1, 3 ECDSA),
// for errors about keys aqua does not support.
std::string libp2p_key_type_name(std::uint64_t type);

class keypair {
 public:
  static constexpr std::size_t seed_size = 32;
  static constexpr std::size_t signature_size = 64;

  static result<keypair> from_seed(bytes_view seed);
  static keypair generate();

  const public_key& pub() const noexcept { return pk_; }
  peer_id id() const { return peer_id::from_public_key(pk_); }
  bytes sign(bytes_view message) const;
  // The 32-byte seed; only the key-file writer needs it.
  bytes_view seed() const noexcept;

 private:
  struct secret;
  std::shared_ptr<secret> sk_;
  public_key pk_;
};

} // namespace aqua
