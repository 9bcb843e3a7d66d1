#include "e2ee/x3dh.hpp"

namespace aqua::e2ee {
namespace {

constexpr std::string_view x3dh_info = "aqua-x3dh-v1";
constexpr std::string_view id_info = "aqua-x3dh-identity-v1";

// The identity block key: from the two DHs the responder can compute
// without knowing the sender (DH(EK, SPK), DH(EK, AK)).
key32 identity_block_key(const key32& dh_spk, const key32& dh_ak) {
  bytes ikm;
  put_bytes(ikm, dh_spk);
  put_bytes(ikm, dh_ak);
  key32 k{};
  hkdf_sha256({}, ikm, as_bytes(id_info), k);
  wipe(ikm);
  return k;
}

bytes identity_block_ad(const peer_id& recipient, const key32& ephemeral) {
  bytes ad(id_info.begin(), id_info.end());
  put_bytes(ad, recipient.to_bytes());
  put_bytes(ad, ephemeral);
  return ad;
}

// SK = HKDF(salt 0, 0xFF*32 || DH1 || DH2 || DH3 [|| DH4],
//           "aqua-x3dh-v1" || IK_initiator || IK_responder)
key32 x3dh_secret(const key32& dh1, const key32& dh2, const key32& dh3, const key32* dh4, const public_key& ik_i,
                  const public_key& ik_r) {
  bytes ikm(32, 0xff);
  for (auto* d : {&dh1, &dh2, &dh3}) put_bytes(ikm, *d);
  if (dh4) put_bytes(ikm, *dh4);
  bytes info(x3dh_info.begin(), x3dh_info.end());
  put_bytes(info, ik_i.raw());
  put_bytes(info, ik_r.raw());
  key32 sk{};
  hkdf_sha256({}, ikm, info, sk);
  wipe(ikm);
  return sk;
}

const x25519_keypair* find_signed_prekey(const local_prekeys& ours, std::uint32_t id) {
  if (id == ours.signed_prekey_id) return &ours.signed_prekey;
  if (ours.previous_signed_prekey && ours.previous_signed_prekey->id == id) return &ours.previous_signed_prekey->kp;
  return nullptr;
}

} // namespace

session x3dh_initiate(const local_prekeys& ours, const public_key& our_identity, const bytes& our_signed_card,
                      const contact_card& their, env& e) {
  auto ek = x25519_keypair::generate(e);
  const one_time_prekey* otk = nullptr;
  if (!their.one_time_prekeys.empty()) {  // pick one at random: concurrent senders rarely collide
    std::array<std::uint8_t, 4> r{};
    e.random_bytes(r);
    std::uint32_t v = (std::uint32_t{r[0]} << 24) | (std::uint32_t{r[1]} << 16) | (std::uint32_t{r[2]} << 8) | r[3];
    otk = &their.one_time_prekeys[v % their.one_time_prekeys.size()];
  }
  key32 dh1{}, dh2{}, dh3{}, dh4{};
  dh(ours.agreement.sec, their.signed_prekey, dh1);
  dh(ek.sec, their.agreement_key, dh2);
  dh(ek.sec, their.signed_prekey, dh3);
  if (otk) dh(ek.sec, otk->pub, dh4);
  auto sk = x3dh_secret(dh1, dh2, dh3, otk ? &dh4 : nullptr, our_identity, their.identity);
  auto keys = derive_session_keys(sk);

  session s;
  s.peer_identity = their.identity;
  s.peer_agreement = their.agreement_key;
  s.initiator = true;
  s.send_prekey = true;
  s.ephemeral = ek.pub;
  s.hk_send = keys.hk_i2r;
  s.hk_recv = keys.hk_r2i;
  s.tag_send = keys.tag_i2r;
  s.tag_recv = keys.tag_r2i;
  s.created_ms = e.now_unix_ms();
  s.r = ratchet::init_initiator(keys.root, their.signed_prekey, e);
  s.prekey.ephemeral = ek.pub;
  s.prekey.signed_prekey_id = their.signed_prekey_id;
  s.prekey.one_time_prekey_id = otk ? otk->id : no_one_time_prekey;
  auto idk = identity_block_key(dh3, dh2);
  aead_seal(idk, {}, identity_block_ad(their.id(), ek.pub), our_signed_card, s.prekey.identity_block);
  for (auto* k : {&dh1, &dh2, &dh3, &dh4, &sk, &idk}) wipe(*k);
  wipe(ek.sec);
  return s;
}

result<contact_card> x3dh_open_identity(const local_prekeys& ours, const peer_id& self, const prekey_block& pb) {
  auto* spk = find_signed_prekey(ours, pb.signed_prekey_id);
  if (!spk)
    return error{errc::prekey_unavailable, "signed prekey " + std::to_string(pb.signed_prekey_id) +
                                               " is unknown or retired; the sender needs our current card"};
  key32 dh_spk{}, dh_ak{};
  if (!dh(spk->sec, pb.ephemeral, dh_spk) || !dh(ours.agreement.sec, pb.ephemeral, dh_ak))
    return error{errc::decrypt_failed, "prekey envelope ephemeral key is a low-order point"};
  auto idk = identity_block_key(dh_spk, dh_ak);
  bytes card_bytes;
  bool opened = aead_open(idk, {}, identity_block_ad(self, pb.ephemeral), pb.identity_block, card_bytes);
  for (auto* k : {&dh_spk, &dh_ak, &idk}) wipe(*k);
  if (!opened) return error{errc::decrypt_failed, "identity block of prekey envelope does not decrypt"};
  // The embedded card must be genuinely signed; its validity window is not
  // checked here (the sender may have been offline past its expiry).
  auto c = decode_card(card_bytes);
  if (!c) return c.err();
  if (!c->identity.verify(card_signing_input(*c), c->signature))
    return error{errc::bad_card_signature, "sender card in prekey envelope is not signed by " + c->id().str()};
  return c;
}

result<session> x3dh_respond(const local_prekeys& ours, const public_key& our_identity, const prekey_block& pb,
                             const contact_card& initiator, std::int64_t now_ms) {
  auto* spk = find_signed_prekey(ours, pb.signed_prekey_id);
  if (!spk) return error{errc::prekey_unavailable, "signed prekey " + std::to_string(pb.signed_prekey_id) + " unknown"};
  const x25519_keypair* otk = nullptr;
  if (pb.one_time_prekey_id != no_one_time_prekey) {
    if (auto it = ours.one_time.find(pb.one_time_prekey_id); it != ours.one_time.end()) {
      otk = &it->second;
    } else if (auto sp = ours.spent_one_time.find(pb.one_time_prekey_id);
               sp != ours.spent_one_time.end() && now_ms < sp->second.keep_until_ms) {
      otk = &sp->second.kp;  // another initiator picked it from the same card copy
    } else {
      return error{errc::prekey_unavailable, "one-time prekey " + std::to_string(pb.one_time_prekey_id) +
                                                 " was used more than its keep time ago, or never existed"};
    }
  }
  key32 dh1{}, dh2{}, dh3{}, dh4{};
  if (!dh(spk->sec, initiator.agreement_key, dh1) || !dh(ours.agreement.sec, pb.ephemeral, dh2) ||
      !dh(spk->sec, pb.ephemeral, dh3) || (otk && !dh(otk->sec, pb.ephemeral, dh4)))
    return error{errc::decrypt_failed, "X3DH with a low-order point"};
  auto sk = x3dh_secret(dh1, dh2, dh3, otk ? &dh4 : nullptr, initiator.identity, our_identity);
  auto keys = derive_session_keys(sk);
  session s;
  s.peer_identity = initiator.identity;
  s.peer_agreement = initiator.agreement_key;
  s.ephemeral = pb.ephemeral;
  s.hk_send = keys.hk_r2i;
  s.hk_recv = keys.hk_i2r;
  s.tag_send = keys.tag_r2i;
  s.tag_recv = keys.tag_i2r;
  s.created_ms = now_ms;
  s.r = ratchet::init_responder(keys.root, *spk);
  for (auto* k : {&dh1, &dh2, &dh3, &dh4, &sk}) wipe(*k);
  return s;
}

} // namespace aqua::e2ee
