#include "p2p/libp2p_key.hpp"

#include <optional>

#include "identity/keypair.hpp"
#include "p2p/protobuf.hpp"

namespace aqua::p2p {
namespace {

constexpr std::uint64_t key_type_ed25519 = 1;

error malformed(const std::string& why) { return error{errc::bad_public_key_encoding, "PublicKey " + why}; }

} // namespace

bytes encode_libp2p_public_key(const public_key& key) {
  bytes out;
  pb::put_varint_field(out, 1, key_type_ed25519);
  pb::put_bytes_field(out, 2, key.raw());
  return out;
}

result<public_key> decode_libp2p_public_key(bytes_view in) {
  std::optional<std::uint64_t> type;
  std::optional<bytes_view> data;
  pb::reader r(in);
  pb::field f;
  while (r.next(f)) {
    if (f.number == 1) {
      if (f.type != pb::wire::varint || type) return malformed("Type (1) is not a single varint");
      type = f.value;
    } else if (f.number == 2) {
      if (f.type != pb::wire::len || data) return malformed("Data (2) is not a single byte string");
      data = f.data;
    }
  }
  if (r.failed()) return malformed("is not a valid protobuf");
  if (!type) return malformed("has no Type (1)");
  if (*type != key_type_ed25519)
    return error{errc::wrong_key_type, "PublicKey is a " + libp2p_key_type_name(*type) + " key, only Ed25519 is supported"};
  if (!data) return malformed("has no Data (2)");
  if (data->size() != public_key::size)
    return error{errc::wrong_key_length, "PublicKey: an Ed25519 key must be 32 bytes, got " + std::to_string(data->size())};
  return public_key::from_bytes(*data);
}

} // namespace aqua::p2p
