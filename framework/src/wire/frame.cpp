#include "wire/frame.hpp"

#include "core/codec.hpp"

namespace aqua::wire {
namespace {

using codec::put_u32;
using codec::reader;


bytes header_and_payload(const frame& f) {
  bytes out{frame_magic0, frame_magic1, frame_version, static_cast<std::uint8_t>(f.type)};
  out.insert(out.end(), f.sender.raw().begin(), f.sender.raw().end());
  auto rid = f.recipient.to_bytes();
  out.push_back(static_cast<std::uint8_t>(rid.size()));
  out.insert(out.end(), rid.begin(), rid.end());
  out.insert(out.end(), f.message_id.begin(), f.message_id.end());
  put_u32(out, static_cast<std::uint32_t>(f.payload.size()));
  out.insert(out.end(), f.payload.begin(), f.payload.end());
  return out;
}

error truncated(const char* field, std::size_t at) {
  return error{errc::bad_frame, std::string("frame truncated in ") + field + " at offset " + std::to_string(at)};
}

} // namespace

bytes signing_input(const frame& f) {
  bytes out(signing_context.begin(), signing_context.end());
  auto hp = header_and_payload(f);
  out.insert(out.end(), hp.begin(), hp.end());
  return out;
}

bytes encode(const frame& f) {
  auto out = header_and_payload(f);
  out.insert(out.end(), f.signature.begin(), f.signature.end());
  return out;
}

result<frame> decode(bytes_view data, std::size_t max_payload) {
  reader r(data);
  bytes_view v;
  if (!r.take(4, v)) return truncated("header", r.pos());
  if (v[0] != frame_magic0 || v[1] != frame_magic1) return error{errc::bad_frame, "bad magic: not an aqua frame"};
  if (v[2] != frame_version)
    return error{errc::bad_frame, "unknown frame version " + std::to_string(v[2]) + " (this aqua speaks version 0)"};
  if (v[3] != static_cast<std::uint8_t>(frame_type::message))
    return error{errc::bad_frame, "unknown frame type " + std::to_string(v[3])};
  frame f;
  f.type = frame_type::message;
  if (!r.take(public_key::size, v)) return truncated("sender key", r.pos());
  auto pk = public_key::from_bytes(v);
  if (!pk) return pk.err();
  f.sender = *pk;
  if (!r.take(1, v)) return truncated("recipient length", r.pos());
  std::size_t rlen = v[0];
  if (!r.take(rlen, v)) return truncated("recipient", r.pos());
  auto rid = peer_id::from_bytes(v);
  if (!rid) return error{rid.err().code(), "frame recipient: " + rid.err().message()};
  f.recipient = *rid;
  if (!r.take(message_id_size, v)) return truncated("message id", r.pos());
  std::copy(v.begin(), v.end(), f.message_id.begin());
  std::uint32_t plen = 0;
  if (!r.u32(plen)) return truncated("payload length", r.pos());
  if (plen > max_payload)
    return error{errc::frame_too_large, "payload of " + std::to_string(plen) + " bytes exceeds limit " +
                                            std::to_string(max_payload)};
  if (!r.take(plen, v)) return truncated("payload", r.pos());
  f.payload.assign(v.begin(), v.end());
  if (!r.take(signature_size, v)) return truncated("signature", r.pos());
  f.signature.assign(v.begin(), v.end());
  if (r.left() != 0)
    return error{errc::bad_frame, std::to_string(r.left()) + " trailing bytes after the signature"};
  return f;
}

result<frame> open(bytes_view data, std::size_t max_payload, const peer_id& self) {
  auto f = decode(data, max_payload);
  if (!f) return f;
  if (!f->sender.verify(signing_input(*f), f->signature))
    return error{errc::bad_signature, "frame signature does not verify for sender " +
                                          peer_id::from_public_key(f->sender).str()};
  if (!(f->recipient == self))
    return error{errc::wrong_recipient, "frame is for " + f->recipient.str() + ", not for " + self.str()};
  return f;
}

} // namespace aqua::wire
