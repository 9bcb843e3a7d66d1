#include "e2ee/envelope.hpp"

#include <sodium.h>

#include "e2ee/ratchet.hpp"

namespace aqua::e2ee {

std::array<std::uint8_t, message_id_size> message_id_or_random(const std::string& hex) {
  std::array<std::uint8_t, message_id_size> id{};
  if (auto raw = from_hex(hex); raw && raw->size() == id.size())
    std::copy(raw->begin(), raw->end(), id.begin());
  else
    randombytes_buf(id.data(), id.size());
  return id;
}
namespace {

constexpr std::string_view ad_context = "aqua-envelope-v1";
constexpr std::size_t enc_header_size = ratchet_header_size + aead_tag_size;

// version kind recipient(len+bytes) id expires
void put_outer(bytes& out, const envelope& e) {
  out.push_back(envelope_version);
  out.push_back(static_cast<std::uint8_t>(e.kind));
  auto rid = e.recipient.to_bytes();
  out.push_back(static_cast<std::uint8_t>(rid.size()));
  put_bytes(out, rid);
  put_bytes(out, e.message_id);
  put_u64(out, static_cast<std::uint64_t>(e.expires_ms));
}

void put_prekey_and_tag(bytes& out, const envelope& e) {
  if (e.kind == envelope_kind::prekey) {
    put_bytes(out, e.prekey.ephemeral);
    put_u32(out, e.prekey.signed_prekey_id);
    put_u32(out, e.prekey.one_time_prekey_id);
    put_u16(out, static_cast<std::uint16_t>(e.prekey.identity_block.size()));
    put_bytes(out, e.prekey.identity_block);
  }
  put_bytes(out, e.tag);
}

error truncated(const char* field, std::size_t at) {
  return error{errc::bad_envelope, std::string("envelope truncated in ") + field + " at byte " + std::to_string(at)};
}

} // namespace

bytes envelope_ad(const envelope& e) {
  bytes out(ad_context.begin(), ad_context.end());
  put_outer(out, e);
  put_prekey_and_tag(out, e);
  return out;
}

bytes encode_envelope(const envelope& e) {
  bytes body;
  put_prekey_and_tag(body, e);
  put_bytes(body, e.header);
  put_bytes(body, e.ciphertext);
  bytes out;
  out.reserve(body.size() + 80);
  put_outer(out, e);
  put_u32(out, static_cast<std::uint32_t>(body.size()));
  put_bytes(out, body);
  return out;
}

result<peer_id> peek_recipient(bytes_view data) {
  reader r(data);
  std::uint8_t version = 0, kind = 0, rlen = 0;
  bytes_view v;
  if (!r.u8(version) || !r.u8(kind)) return truncated("header", r.pos());
  if (version != envelope_version)
    return error{errc::unknown_version, "envelope version " + std::to_string(version) + " (this aqua reads version 1)"};
  if (!r.u8(rlen) || !r.take(rlen, v)) return truncated("recipient", r.pos());
  auto rid = peer_id::from_bytes(v);
  if (!rid) return error{errc::bad_envelope, "envelope recipient: " + rid.err().message()};
  return rid;
}

result<std::string> peek_message_id(bytes_view data) {
  reader r(data);
  std::uint8_t version = 0, kind = 0, rlen = 0;
  bytes_view v;
  if (!r.u8(version) || !r.u8(kind) || !r.u8(rlen) || !r.take(rlen, v)) return truncated("header", r.pos());
  if (!r.take(message_id_size, v)) return truncated("message id", r.pos());
  return to_hex(v);
}

result<std::array<std::uint8_t, tag_size>> peek_tag(bytes_view data) {
  reader r(data);
  std::uint8_t version = 0, kind = 0, rlen = 0;
  std::uint32_t body_len = 0;
  std::uint64_t expires = 0;
  bytes_view v;
  if (!r.u8(version) || !r.u8(kind) || !r.u8(rlen) || !r.take(rlen, v) || !r.take(message_id_size, v) ||
      !r.u64(expires) || !r.u32(body_len))
    return truncated("header", r.pos());
  if (version != envelope_version || (kind != 1 && kind != 2) || r.left() != body_len)
    return error{errc::bad_envelope, "not an envelope of version 1"};
  if (kind == 1) {
    key32 ek{};
    std::uint32_t spk = 0, otk = 0;
    std::uint16_t idlen = 0;
    if (!r.key(ek) || !r.u32(spk) || !r.u32(otk) || !r.u16(idlen) || !r.take(idlen, v))
      return truncated("prekey block", r.pos());
  }
  if (!r.take(tag_size, v)) return truncated("tag", r.pos());
  std::array<std::uint8_t, tag_size> tag{};
  std::copy(v.begin(), v.end(), tag.begin());
  return tag;
}

result<envelope> decode_envelope(bytes_view data, std::size_t max_body) {
  reader r(data);
  envelope e;
  std::uint8_t version = 0, kind = 0, rlen = 0;
  if (!r.u8(version)) return truncated("version", r.pos());
  if (version != envelope_version)
    return error{errc::unknown_version, "envelope version " + std::to_string(version) + " (this aqua reads version 1)"};
  if (!r.u8(kind)) return truncated("kind", r.pos());
  if (kind != 1 && kind != 2) return error{errc::bad_envelope, "unknown envelope kind " + std::to_string(kind)};
  e.kind = static_cast<envelope_kind>(kind);
  bytes_view v;
  if (!r.u8(rlen) || !r.take(rlen, v)) return truncated("recipient", r.pos());
  auto rid = peer_id::from_bytes(v);
  if (!rid) return error{errc::bad_envelope, "envelope recipient: " + rid.err().message()};
  e.recipient = *rid;
  if (!r.take(message_id_size, v)) return truncated("message id", r.pos());
  std::copy(v.begin(), v.end(), e.message_id.begin());
  std::uint64_t expires = 0;
  if (!r.u64(expires)) return truncated("expiry", r.pos());
  if (expires > static_cast<std::uint64_t>(INT64_MAX)) return error{errc::bad_envelope, "expiry out of range"};
  e.expires_ms = static_cast<std::int64_t>(expires);
  std::uint32_t body_len = 0;
  if (!r.u32(body_len)) return truncated("body length", r.pos());
  if (body_len > max_body)
    return error{errc::frame_too_large, "envelope body of " + std::to_string(body_len) + " bytes exceeds limit " +
                                            std::to_string(max_body)};
  if (r.left() != body_len)
    return error{errc::bad_envelope, "body length says " + std::to_string(body_len) + " but " +
                                         std::to_string(r.left()) + " bytes follow"};
  if (e.kind == envelope_kind::prekey) {
    std::uint16_t idlen = 0;
    if (!r.key(e.prekey.ephemeral) || !r.u32(e.prekey.signed_prekey_id) || !r.u32(e.prekey.one_time_prekey_id) ||
        !r.u16(idlen))
      return truncated("prekey block", r.pos());
    if (idlen > max_identity_block || idlen < aead_tag_size)
      return error{errc::bad_envelope, "identity block of " + std::to_string(idlen) + " bytes is out of range"};
    if (!r.take(idlen, v)) return truncated("identity block", r.pos());
    e.prekey.identity_block.assign(v.begin(), v.end());
  }
  if (!r.take(tag_size, v)) return truncated("tag", r.pos());
  std::copy(v.begin(), v.end(), e.tag.begin());
  if (!r.take(enc_header_size, v)) return truncated("header", r.pos());
  e.header.assign(v.begin(), v.end());
  if (r.left() < aead_tag_size) return truncated("ciphertext", r.pos());
  r.take(r.left(), v);
  e.ciphertext.assign(v.begin(), v.end());
  return e;
}

} // namespace aqua::e2ee
