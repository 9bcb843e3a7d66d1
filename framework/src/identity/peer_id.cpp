#include <sodium.h>

#include <algorithm>
#include <array>

#include "aqua/identity.hpp"
#include "core/sodium.hpp"
#include "identity/keypair.hpp"

namespace aqua {
namespace {

// identity multihash (code 0x00), length 36, protobuf PublicKey{Type=1, Data=32 bytes}
constexpr std::uint8_t multihash_identity = 0x00;
constexpr std::uint8_t multihash_sha256 = 0x12;
constexpr std::size_t protobuf_key_size = 4 + public_key::size;

} // namespace

std::string libp2p_key_type_name(std::uint64_t type) {
  switch (type) {
    case 0: return "RSA";
    case 1: return "Ed25519";
    case 2: return "Secp256k1";
    case 3: return "ECDSA";
    default: return "unknown key type " + std::to_string(type);
  }
}

result<public_key> public_key::from_bytes(bytes_view raw) {
  if (raw.size() != size)
    return error{errc::wrong_key_length,
                 "Ed25519 public key must be 32 bytes, got " + std::to_string(raw.size())};
  std::array<std::uint8_t, size> a{};
  std::copy(raw.begin(), raw.end(), a.begin());
  return public_key{a};
}

std::string public_key::hex() const { return to_hex(raw_); }

bool public_key::verify(bytes_view message, bytes_view signature) const noexcept {
  detail::ensure_sodium();
  if (signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     raw_.data()) == 0;
}

peer_id peer_id::from_public_key(const public_key& key) {
  peer_id id;
  id.key_ = key;
  id.set_ = true;
  return id;
}

bytes peer_id::to_bytes() const {
  bytes out(2 + protobuf_key_size);
  out[0] = multihash_identity;
  out[1] = static_cast<std::uint8_t>(protobuf_key_size);
  out[2] = 0x08;  // field 1 (Type), varint
  out[3] = 0x01;  // Ed25519
  out[4] = 0x12;  // field 2 (Data), length-delimited
  out[5] = static_cast<std::uint8_t>(public_key::size);
  std::copy(key_.raw().begin(), key_.raw().end(), out.begin() + 6);
  return out;
}

namespace {

// Base58 is quadratic in the length; a node converts the same few peer IDs
// between text and binary for every message (bench/transport showed ~2.5% of
// all CPU there), so each thread remembers its last few conversions.
struct text_cache {
  static constexpr std::size_t slots = 8;
  std::array<std::pair<peer_id, std::string>, slots> entries;
  std::size_t next = 0;
  void put(const peer_id& id, const std::string& text) {
    entries[next] = {id, text};
    next = (next + 1) % slots;
  }
};
text_cache& cache() {
  thread_local text_cache c;
  return c;
}

} // namespace

result<peer_id> peer_id::parse(std::string_view text) {
  for (auto& [id, t] : cache().entries)
    if (!id.empty() && t == text) return id;
  auto decoded = base58_decode(text);
  if (!decoded) return error{errc::bad_base58, "peer ID '" + std::string(text) + "': " + decoded.err().message()};
  auto id = from_bytes(*decoded);
  if (id) cache().put(*id, std::string(text));
  return id;
}

std::string peer_id::str() const {
  if (!set_) return {};
  for (auto& [id, t] : cache().entries)
    if (!id.empty() && id == *this) return t;
  auto text = base58_encode(to_bytes());
  cache().put(*this, text);
  return text;
}

result<peer_id> peer_id::from_bytes(bytes_view mh) {
  // Only error paths need the text form.
  struct lazy_text {
    bytes_view mh;
    operator std::string() const { return base58_encode(mh); }
  } text{mh};
  if (mh.size() < 2)
    return error{errc::wrong_multihash, "peer ID '" + std::string(text) + "' is too short to be a multihash"};
  if (mh[0] != multihash_identity) {
    std::string why = mh[0] == multihash_sha256
                          ? "sha2-256 multihash (RSA/large keys) is not supported, only identity multihash of an Ed25519 key"
                          : "multihash code 0x" + to_hex(bytes_view(mh.data(), 1)) + " is not the identity multihash (0x00)";
    return error{errc::wrong_multihash, "peer ID '" + std::string(text) + "': " + why};
  }
  if (mh[1] != mh.size() - 2)
    return error{errc::wrong_multihash, "peer ID '" + std::string(text) + "': multihash length byte says " +
                                            std::to_string(mh[1]) + " but " + std::to_string(mh.size() - 2) +
                                            " bytes follow"};
  // protobuf PublicKey: field 1 (varint) Type, field 2 (bytes) Data
  bytes_view pb(mh.data() + 2, mh.size() - 2);
  if (pb.size() < 4 || pb[0] != 0x08)
    return error{errc::bad_public_key_encoding, "peer ID '" + std::string(text) + "': public key protobuf has no Type field"};
  if (pb[1] & 0x80)
    return error{errc::wrong_key_type, "peer ID '" + std::string(text) + "': key type varint out of range"};
  if (pb[1] != 0x01)
    return error{errc::wrong_key_type, "peer ID '" + std::string(text) + "': key type is " + libp2p_key_type_name(pb[1]) +
                                           ", only Ed25519 is supported"};
  if (pb[2] != 0x12 || (pb[3] & 0x80))
    return error{errc::bad_public_key_encoding, "peer ID '" + std::string(text) + "': public key protobuf has no Data field"};
  if (pb[3] != public_key::size || pb.size() != protobuf_key_size)
    return error{errc::wrong_key_length, "peer ID '" + std::string(text) + "': Ed25519 key must be 32 bytes, got " +
                                             std::to_string(pb.size() - 4)};
  auto key = public_key::from_bytes(pb.subspan(4));
  if (!key) return key.err();
  return from_public_key(*key);
}

} // namespace aqua
