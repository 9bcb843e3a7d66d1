#include "p2p/signed_envelope.hpp"

#include <optional>

#include "p2p/libp2p_key.hpp"
#include "p2p/protobuf.hpp"

namespace aqua::p2p {
namespace {

error malformed(const std::string& why) { return error{errc::bad_frame, "signed envelope: " + why}; }

} // namespace

bytes envelope_signing_input(std::string_view domain, bytes_view payload_type, bytes_view payload) {
  bytes out;
  out.reserve(domain.size() + payload_type.size() + payload.size() + 9);
  for (bytes_view part : {as_bytes(domain), payload_type, payload}) {
    pb::put_varint(out, part.size());
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

bytes encode_envelope(const signed_envelope& e) {
  bytes out;
  pb::put_bytes_field(out, 1, encode_libp2p_public_key(e.key));
  pb::put_bytes_field(out, 2, e.payload_type);
  pb::put_bytes_field(out, 3, e.payload);
  pb::put_bytes_field(out, 5, e.signature);
  return out;
}

bytes seal_envelope(const keypair& signer, std::string_view domain, bytes_view payload_type, bytes_view payload) {
  signed_envelope e{signer.pub(), bytes(payload_type.begin(), payload_type.end()), bytes(payload.begin(), payload.end()),
                    signer.sign(envelope_signing_input(domain, payload_type, payload))};
  return encode_envelope(e);
}

result<signed_envelope> decode_envelope(bytes_view in) {
  std::optional<bytes_view> key, type, payload, signature;
  pb::reader r(in);
  pb::field f;
  while (r.next(f)) {
    std::optional<bytes_view>* slot = f.number == 1   ? &key
                                      : f.number == 2 ? &type
                                      : f.number == 3 ? &payload
                                      : f.number == 5 ? &signature
                                                      : nullptr;
    if (!slot) continue;  // unknown field
    if (f.type != pb::wire::len) return malformed("field " + std::to_string(f.number) + " has the wrong wire type");
    *slot = f.data;
  }
  if (r.failed()) return malformed("truncated or invalid field");
  if (!key) return malformed("missing public_key (1)");
  if (!signature) return malformed("missing signature (5)");
  auto pk = decode_libp2p_public_key(*key);
  if (!pk) return error{pk.err().code(), "signed envelope: public_key: " + pk.err().message()};
  signed_envelope e;
  e.key = *pk;
  if (type) e.payload_type.assign(type->begin(), type->end());
  if (payload) e.payload.assign(payload->begin(), payload->end());
  e.signature.assign(signature->begin(), signature->end());
  return e;
}

result<signed_envelope> open_envelope(bytes_view in, std::string_view domain, bytes_view expected_type) {
  auto e = decode_envelope(in);
  if (!e) return e.err();
  if (!e->key.verify(envelope_signing_input(domain, e->payload_type, e->payload), e->signature))
    return error{errc::bad_signature, "signed envelope: signature does not verify for domain '" + std::string(domain) +
                                          "' (wrong key, domain or tampered payload)"};
  if (!equal_ct(e->payload_type, expected_type))
    return malformed("payload type " + to_hex(e->payload_type) + ", expected " + to_hex(expected_type));
  return e;
}

bytes encode_voucher(const voucher& v) {
  bytes out;
  pb::put_bytes_field(out, 1, v.relay.to_bytes());
  pb::put_bytes_field(out, 2, v.peer.to_bytes());
  pb::put_varint_field(out, 3, v.expiration);
  return out;
}

result<voucher> decode_voucher(bytes_view payload) {
  std::optional<bytes_view> relay, peer;
  std::uint64_t expiration = 0;
  pb::reader r(payload);
  pb::field f;
  while (r.next(f)) {
    if (f.number < 1 || f.number > 3) continue;
    if (f.type != (f.number == 3 ? pb::wire::varint : pb::wire::len))
      return error{errc::bad_frame, "voucher: field " + std::to_string(f.number) + " has the wrong wire type"};
    if (f.number == 1)
      relay = f.data;
    else if (f.number == 2)
      peer = f.data;
    else
      expiration = f.value;
  }
  if (r.failed()) return error{errc::bad_frame, "voucher: truncated or invalid field"};
  if (!relay || !peer) return error{errc::bad_frame, "voucher: missing relay (1) or peer (2)"};
  auto relay_id = peer_id::from_bytes(*relay);
  if (!relay_id) return error{relay_id.err().code(), "voucher relay: " + relay_id.err().message()};
  auto peer_id_ = peer_id::from_bytes(*peer);
  if (!peer_id_) return error{peer_id_.err().code(), "voucher peer: " + peer_id_.err().message()};
  return voucher{*relay_id, *peer_id_, expiration};
}

bytes make_voucher(const keypair& relay, const peer_id& peer, std::uint64_t expiration) {
  return seal_envelope(relay, voucher_domain, voucher_payload_type, encode_voucher({relay.id(), peer, expiration}));
}

result<voucher> open_voucher(bytes_view envelope, const peer_id& expected_relay, std::int64_t now_unix_ms) {
  auto e = open_envelope(envelope, voucher_domain, voucher_payload_type);
  if (!e) return error{e.err().code(), "reservation voucher: " + e.err().message()};
  auto v = decode_voucher(e->payload);
  if (!v) return error{v.err().code(), "reservation voucher: " + v.err().message()};
  if (!(v->relay.key() == e->key))
    return error{errc::bad_signature, "reservation voucher names relay " + v->relay.str() + " but is signed by " +
                                          peer_id::from_public_key(e->key).str()};
  if (!(v->relay == expected_relay))
    return error{errc::wrong_recipient,
                 "reservation voucher is from relay " + v->relay.str() + ", expected " + expected_relay.str()};
  const std::int64_t now_s = now_unix_ms / 1000;
  if (now_s >= 0 && v->expiration <= static_cast<std::uint64_t>(now_s))
    return error{errc::message_expired, "reservation voucher expired at " + std::to_string(v->expiration) +
                                            " (now " + std::to_string(now_s) + ")"};
  return v;
}

} // namespace aqua::p2p
