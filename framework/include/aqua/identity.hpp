#pragma once
// Public identity types: Ed25519 public keys and libp2p-style peer IDs.
//
// A peer ID is the base58btc encoding of the identity multihash of the
// protobuf-encoded libp2p PublicKey { Type = Ed25519 (1), Data = 32 bytes }:
//   00 24 | 08 01 12 20 | key[32]    ->  "12D3KooW..."

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"

namespace aqua {

class public_key {
 public:
  static constexpr std::size_t size = 32;
  public_key() = default;
  explicit public_key(const std::array<std::uint8_t, size>& raw) : raw_(raw) {}
  static result<public_key> from_bytes(bytes_view raw);

  const std::array<std::uint8_t, size>& raw() const noexcept { return raw_; }
  std::string hex() const;
  // Verifies an Ed25519 signature over `message`.
  bool verify(bytes_view message, bytes_view signature) const noexcept;

  auto operator<=>(const public_key&) const = default;

 private:
  std::array<std::uint8_t, size> raw_{};
};

class peer_id {
 public:
  peer_id() = default;
  static peer_id from_public_key(const public_key& key);
  // Distinct errors: bad_base58, wrong_multihash, wrong_key_type,
  // wrong_key_length, bad_public_key_encoding.
  static result<peer_id> parse(std::string_view text);
  // The same checks on the binary multihash form.
  static result<peer_id> from_bytes(bytes_view multihash);

  const public_key& key() const noexcept { return key_; }
  // base58btc text form (each thread caches its last few conversions).
  std::string str() const;
  // The multihash bytes (38 bytes for Ed25519).
  bytes to_bytes() const;
  bool empty() const noexcept { return !set_; }

  bool operator==(const peer_id& other) const { return key_ == other.key_; }
  bool operator<(const peer_id& other) const { return key_ < other.key_; }

 private:
  public_key key_;
  bool set_ = false;
};

} // namespace aqua
