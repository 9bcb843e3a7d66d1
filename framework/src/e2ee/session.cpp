#include "e2ee/session.hpp"

namespace aqua::e2ee {

tag_bytes message_tag(const key32& tag_key, std::uint64_t seq) {
  static constexpr std::string_view ctx = "aqua-tag-v1";
  std::array<std::uint8_t, ctx.size() + 8> in{};
  std::copy(ctx.begin(), ctx.end(), in.begin());
  for (int i = 0; i < 8; ++i) in[ctx.size() + i] = static_cast<std::uint8_t>(seq >> (56 - 8 * i));
  tag_bytes t{};
  blake2b_keyed(tag_key, in, t);  // BLAKE2b-128(key=tag_key, "aqua-tag-v1" || u64 S)
  return t;
}

std::array<std::uint8_t, aead_nonce_size> header_nonce(std::uint64_t seq) {
  std::array<std::uint8_t, aead_nonce_size> n{};
  for (int i = 0; i < 8; ++i) n[4 + i] = static_cast<std::uint8_t>(seq >> (56 - 8 * i));
  return n;
}

session_keys derive_session_keys(const key32& x3dh_secret) {
  static constexpr std::string_view info = "aqua-session-keys-v1";
  std::array<std::uint8_t, 160> out{};
  hkdf_sha256({}, x3dh_secret, as_bytes(info), out);
  session_keys k;
  key32* parts[] = {&k.root, &k.hk_i2r, &k.hk_r2i, &k.tag_i2r, &k.tag_r2i};
  for (int i = 0; i < 5; ++i) std::copy(out.begin() + 32 * i, out.begin() + 32 * (i + 1), parts[i]->begin());
  wipe(out);
  return k;
}

void encode_session(const session& s, bytes& out) {
  out.push_back(session_state_version);
  put_u64(out, s.id);
  put_bytes(out, s.peer_identity.raw());
  put_bytes(out, s.peer_agreement);
  out.push_back(static_cast<std::uint8_t>((s.initiator ? 1 : 0) | (s.send_prekey ? 2 : 0)));
  put_bytes(out, s.ephemeral);
  if (s.send_prekey) {
    put_u32(out, s.prekey.signed_prekey_id);
    put_u32(out, s.prekey.one_time_prekey_id);
    put_u16(out, static_cast<std::uint16_t>(s.prekey.identity_block.size()));
    put_bytes(out, s.prekey.identity_block);
  }
  for (auto* k : {&s.hk_send, &s.hk_recv, &s.tag_send, &s.tag_recv}) put_bytes(out, *k);
  put_u64(out, s.send_seq);
  put_u64(out, s.recv_high);
  put_u32(out, static_cast<std::uint32_t>(s.recv_missing.size()));
  for (auto m : s.recv_missing) put_u64(out, m);
  put_u64(out, static_cast<std::uint64_t>(s.created_ms));
  put_u64(out, static_cast<std::uint64_t>(s.last_recv_ms));
  s.r.encode(out);
}

result<session> decode_session(codec::reader& r) {
  auto bad = [&](const std::string& what) {
    return error{errc::bad_session_state, "session state: " + what + " at byte " + std::to_string(r.pos())};
  };
  std::uint8_t version = 0, flags = 0;
  if (!r.u8(version)) return bad("truncated");
  if (version != session_state_version)
    return error{errc::unknown_version, "session state version " + std::to_string(version) + " (this aqua reads 1)"};
  session s;
  key32 pk{};
  if (!r.u64(s.id) || !r.key(pk) || !r.key(s.peer_agreement) || !r.u8(flags) || !r.key(s.ephemeral))
    return bad("truncated in identity");
  if (flags & ~3u) return bad("unknown flags");
  s.peer_identity = public_key(pk);
  s.initiator = flags & 1;
  s.send_prekey = flags & 2;
  if (s.send_prekey) {
    std::uint16_t len = 0;
    bytes_view v;
    if (!r.u32(s.prekey.signed_prekey_id) || !r.u32(s.prekey.one_time_prekey_id) || !r.u16(len) ||
        len > max_identity_block || !r.take(len, v))
      return bad("bad prekey block");
    s.prekey.identity_block.assign(v.begin(), v.end());
    s.prekey.ephemeral = s.ephemeral;
  }
  std::uint32_t n_missing = 0;
  if (!r.key(s.hk_send) || !r.key(s.hk_recv) || !r.key(s.tag_send) || !r.key(s.tag_recv) || !r.u64(s.send_seq) ||
      !r.u64(s.recv_high) || !r.u32(n_missing))
    return bad("truncated in keys");
  if (n_missing > 100000) return bad("too many missing sequence numbers");
  for (std::uint32_t i = 0; i < n_missing; ++i) {
    std::uint64_t m = 0;
    if (!r.u64(m)) return bad("truncated in missing list");
    if (m >= s.recv_high) return bad("missing sequence number beyond high-water mark");
    if (!s.recv_missing.empty() && m <= *s.recv_missing.rbegin()) return bad("missing sequence numbers not strictly increasing");
    s.recv_missing.insert(m);
  }
  std::uint64_t created = 0, last = 0;
  if (!r.u64(created) || !r.u64(last)) return bad("truncated in timestamps");
  s.created_ms = static_cast<std::int64_t>(created);
  s.last_recv_ms = static_cast<std::int64_t>(last);
  auto rr = ratchet::decode(r);
  if (!rr) return rr.err();
  s.r = std::move(*rr);
  return s;
}

} // namespace aqua::e2ee
