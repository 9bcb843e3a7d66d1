#include "p2p/noise_handshake.hpp"

#include <algorithm>

#include "e2ee/primitives.hpp"
#include "p2p/protobuf.hpp"

namespace aqua::p2p {

namespace {

constexpr std::string_view static_key_prefix = "noise-libp2p-static-key:";

error malformed(std::string what) { return error{errc::bad_frame, "noise handshake payload: " + std::move(what)}; }

result<noise_extensions> decode_extensions(bytes_view pb_bytes) {
  noise_extensions ext;
  pb::reader r(pb_bytes);
  pb::field f;
  while (r.next(f)) {
    if (f.number != 1 && f.number != 2) continue;  // unknown: ignored
    if (f.type != pb::wire::len) return malformed("extensions field " + std::to_string(f.number) + " is not length-delimited");
    if (f.number == 1)
      ext.webtransport_certhashes.emplace_back(f.data.begin(), f.data.end());
    else
      ext.stream_muxers.emplace_back(f.data.begin(), f.data.end());
  }
  if (r.failed()) return malformed("extensions are not a valid protobuf message");
  return ext;
}

noise_detail::xx_state make_xx(noise_detail::role r, env& e) {
  noise_detail::key32 s{}, eph{};
  e.random_bytes(s);
  e.random_bytes(eph);
  noise_detail::xx_state xx(r, s, eph, {});  // libp2p: empty prologue
  e2ee::wipe(s);
  e2ee::wipe(eph);
  return xx;
}

} // namespace

bytes noise_static_key_signing_input(bytes_view static_public_key) {
  // Sized once and filled (g++ 12 -O2 warns falsely on grow-then-insert here).
  bytes m(static_key_prefix.size() + static_public_key.size());
  std::copy(static_key_prefix.begin(), static_key_prefix.end(), m.begin());
  std::copy(static_public_key.begin(), static_public_key.end(), m.begin() + static_cast<std::ptrdiff_t>(static_key_prefix.size()));
  return m;
}

bytes encode_noise_payload(const noise_payload& p) {
  bytes out;
  pb::put_bytes_field(out, 1, p.identity_key);
  pb::put_bytes_field(out, 2, p.identity_sig);
  if (p.extensions) {
    bytes ext;
    for (const auto& h : p.extensions->webtransport_certhashes) pb::put_bytes_field(ext, 1, h);
    for (const auto& m : p.extensions->stream_muxers) pb::put_string_field(ext, 2, m);
    pb::put_bytes_field(out, 4, ext);
  }
  return out;
}

result<noise_payload> decode_noise_payload(bytes_view pb_bytes) {
  noise_payload p;
  bool have_key = false, have_sig = false;
  pb::reader r(pb_bytes);
  pb::field f;
  while (r.next(f)) {
    if (f.number != 1 && f.number != 2 && f.number != 4) continue;  // unknown: ignored
    if (f.type != pb::wire::len) return malformed("field " + std::to_string(f.number) + " is not length-delimited");
    if (f.number == 1) {
      if (have_key) return malformed("identity_key appears twice");
      have_key = true;
      p.identity_key.assign(f.data.begin(), f.data.end());
    } else if (f.number == 2) {
      if (have_sig) return malformed("identity_sig appears twice");
      have_sig = true;
      p.identity_sig.assign(f.data.begin(), f.data.end());
    } else {
      auto ext = decode_extensions(f.data);
      if (!ext) return ext.err();
      if (!p.extensions) p.extensions.emplace();
      // A repeated embedded message merges: its repeated fields concatenate.
      for (auto& h : ext->webtransport_certhashes) p.extensions->webtransport_certhashes.push_back(std::move(h));
      for (auto& m : ext->stream_muxers) p.extensions->stream_muxers.push_back(std::move(m));
    }
  }
  if (r.failed()) return malformed("not a valid protobuf message");
  return p;
}

result<peer_id> verify_noise_payload(const noise_payload& p, bytes_view remote_static) {
  if (p.identity_key.empty()) return error{errc::bad_public_key_encoding, "noise handshake payload has no identity_key"};
  auto key = decode_libp2p_public_key(p.identity_key);
  if (!key) return error{key.err().code(), "noise handshake payload: identity_key: " + key.err().message()};
  const auto id = peer_id::from_public_key(*key);
  if (p.identity_sig.empty())
    return error{errc::bad_signature, "noise handshake payload of " + id.str() + " has no identity_sig"};
  if (!key->verify(noise_static_key_signing_input(remote_static), p.identity_sig))
    return error{errc::bad_signature, "noise handshake: " + id.str() +
                                          "'s identity_sig does not sign the Noise static key it sent"};
  return id;
}

// ---- noise_handshake ----

noise_handshake::noise_handshake(noise_detail::role r, const keypair& identity, env& e, std::optional<peer_id> expected)
    : xx_(make_xx(r, e)), expected_(std::move(expected)) {
  noise_payload p;
  p.identity_key = encode_libp2p_public_key(identity.pub());
  p.identity_sig = identity.sign(noise_static_key_signing_input(xx_.local_static_public()));
  payload_ = encode_noise_payload(p);
}

noise_handshake noise_handshake::initiator(const keypair& identity, env& e, std::optional<peer_id> expected_remote) {
  return noise_handshake(noise_detail::role::initiator, identity, e, std::move(expected_remote));
}

noise_handshake noise_handshake::responder(const keypair& identity, env& e) {
  return noise_handshake(noise_detail::role::responder, identity, e, std::nullopt);
}

error noise_handshake::fail(error e) {
  if (!failed_) failed_ = e;
  return e;
}

result<bytes> noise_handshake::write_message() {
  if (failed_) return error{failed_->code(), "noise handshake failed earlier: " + failed_->message()};
  // Message 1 carries no payload: nothing sent before the first DH is secret.
  return xx_.write_message(xx_.next_message() == 0 ? bytes_view{} : bytes_view(payload_));
}

result<void> noise_handshake::read_message(bytes_view body) {
  if (failed_) return error{failed_->code(), "noise handshake failed earlier: " + failed_->message()};
  const int index = xx_.next_message();
  auto payload = xx_.read_message(body);
  if (!payload) return std::move(payload).err();
  if (index == 0) {
    if (!payload->empty())
      return fail(error{errc::bad_frame, "noise: message 1 (-> e) must have an empty payload, got " +
                                             std::to_string(payload->size()) + " bytes"});
    return ok();
  }
  auto decoded = decode_noise_payload(*payload);
  if (!decoded) return fail(std::move(decoded).err());
  auto id = verify_noise_payload(*decoded, xx_.remote_static());
  if (!id) return fail(std::move(id).err());
  if (expected_ && !(*expected_ == *id))
    return fail(error{errc::wrong_recipient, "noise: dialled " + expected_->str() + " but the responder proved identity " +
                                                 id->str()});
  remote_ = *id;
  remote_ext_ = decoded->extensions.value_or(noise_extensions{});
  return ok();
}

bytes noise_handshake::handshake_hash() const {
  if (!complete()) return {};
  const auto& h = xx_.handshake_hash();
  return bytes(h.begin(), h.end());
}

result<noise_transport> noise_handshake::finish() {
  if (failed_) return error{failed_->code(), "noise handshake failed earlier: " + failed_->message()};
  auto cs = xx_.split();
  if (!cs) return std::move(cs).err();
  return noise_transport(std::move(cs->first), std::move(cs->second));
}

} // namespace aqua::p2p
