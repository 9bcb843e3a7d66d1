// ratchet.mjs — the responder side of aqua's X3DH and a general double ratchet + envelope open/seal,
// written from docs/protocol/{sessions,envelope,delivery}.md (review-j). Builds on aqua_spec.mjs (copied).
import * as L from './aqua_spec.mjs'

const { cat, ascii, u32, u64, X25519, x25519Pub, HKDF, AEAD, AEAD_open, kdfRK, kdfCK, tagOf, peerIdBytes } = L
const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i])
const TAG_WINDOW = 64n
const MAX_SKIP = 1000

// ---------------------------------------------------------------- envelope decoding (envelope.md, "Layout")
export function decodeEnvelope (env) {
  if (env.length < 3) throw new Error('bad_envelope: short')
  if (env[0] !== 1) throw new Error('unknown_version')
  const kind = env[1]; if (kind !== 1 && kind !== 2) throw new Error('bad_envelope: kind')
  const N = env[2]
  const dv = new DataView(env.buffer, env.byteOffset, env.byteLength)
  const hlen = 3 + N + 16 + 8
  if (env.length < hlen + 4) throw new Error('bad_envelope: head')
  const recipient = env.subarray(3, 3 + N)
  const messageId = env.subarray(3 + N, 19 + N)
  const expiresMs = dv.getBigUint64(19 + N)
  const B = dv.getUint32(hlen)
  const body = env.subarray(hlen + 4)
  if (body.length !== B) throw new Error('bad_envelope: body length')
  let o = 0; let prekey = null
  if (kind === 1) {
    const bdv = new DataView(body.buffer, body.byteOffset, body.byteLength)
    const ek = body.subarray(0, 32); const spkId = bdv.getUint32(32); const opkId = bdv.getUint32(36); const I = bdv.getUint16(40)
    if (I < 16 || I > 16384 || body.length < 42 + I) throw new Error('bad_envelope: identity block')
    prekey = { ek, spkId, opkId, idBlock: body.subarray(42, 42 + I), block: body.subarray(0, 42 + I) }
    o = 42 + I
  }
  if (body.length < o + 16 + 56 + 16) throw new Error('bad_envelope: short body')
  const tag = body.subarray(o, o + 16)
  const encHeader = body.subarray(o + 16, o + 72)
  const ct = body.subarray(o + 72)
  const AD = cat(ascii('aqua-envelope-v1'), env.subarray(0, hlen), prekey ? prekey.block : new Uint8Array(0), tag)
  return { kind, recipient, messageId, expiresMs, prekey, tag, encHeader, ct, AD }
}

// ---------------------------------------------------------------- ratchet receive (sessions.md, "Receiving")
// sess.r = { RK, CKs|null, CKr|null, DHs:{sec,pub}, DHr|null, Ns, Nr, PN, skipped: Map(hex(dh)+':'+n -> mk) }
function skipUntil (r, u) {
  if (!r.CKr) return
  if (u > r.Nr && u - r.Nr > 8192) throw new Error('too_many_skipped')
  while (r.Nr < u) {
    const [ck, mk] = kdfCK(r.CKr); r.CKr = ck
    if (u - r.Nr <= MAX_SKIP) r.skipped.set(L.hex(r.DHr) + ':' + r.Nr, mk)
    r.Nr++
  }
}
function receiveKey (r0, env, header) {
  const dh = header.subarray(0, 32)
  const hdv = new DataView(header.buffer, header.byteOffset, header.byteLength)
  const pn = hdv.getUint32(32); const n = hdv.getUint32(36)
  // clone
  const r = { ...r0, skipped: new Map(r0.skipped) }
  if (r.CKr && r.DHr && eq(dh, r.DHr) && n === r.Nr) {
    const [ck, mk] = kdfCK(r.CKr); r.CKr = ck; r.Nr++
    return { r, mk, dh, pn, n }
  }
  const key = L.hex(dh) + ':' + n
  if (r.skipped.has(key)) { const mk = r.skipped.get(key); r.skipped.delete(key); return { r, mk, dh, pn, n } }
  if (!r.DHr || !eq(dh, r.DHr)) {
    skipUntil(r, pn)
    r.PN = r.Ns; r.Ns = 0; r.Nr = 0; r.DHr = dh
    ;[r.RK, r.CKr] = kdfRK(r.RK, X25519(r.DHs.sec, r.DHr))
    const sec = env.random(32)
    r.DHs = { sec, pub: x25519Pub(sec) }
    ;[r.RK, r.CKs] = kdfRK(r.RK, X25519(r.DHs.sec, r.DHr)) // eager sending step (same result as aqua's deferred one)
  } else {
    throw new Error('reused_message_key')
  }
  skipUntil(r, n)
  const [ck, mk] = kdfCK(r.CKr); r.CKr = ck; r.Nr++
  return { r, mk, dh, pn, n }
}

// ---------------------------------------------------------------- responder (sessions.md, "Responder")
// me: { identityKey, keys: createEngineKeys(), }
export function x3dhRespond (env, me, e, nowMs) {
  const pk = e.prekey
  if (pk.spkId !== me.keys.spkId) throw new Error('prekey_unavailable (spk ' + pk.spkId + ')')
  const DH3 = X25519(me.keys.spkSec, pk.ek)
  const DH2 = X25519(me.keys.akSec, pk.ek)
  const IDK = HKDF(new Uint8Array(0), cat(DH3, DH2), ascii('aqua-x3dh-identity-v1'), 32)
  const ID_AD = cat(ascii('aqua-x3dh-identity-v1'), peerIdBytes(me.identityKey), pk.ek)
  const cardBytes = AEAD_open(IDK, new Uint8Array(12), ID_AD, pk.idBlock)
  const peer = L.verifyCard(cardBytes, nowMs, { checkTime: false })
  let DH4 = new Uint8Array(0)
  if (pk.opkId !== 0xFFFFFFFF) {
    const opk = me.keys.otpks.find(o => o.id === pk.opkId)
    if (!opk) throw new Error('prekey_unavailable (opk ' + pk.opkId + ')')
    DH4 = X25519(opk.sec, pk.ek)
  }
  const DH1 = X25519(me.keys.spkSec, peer.agreementKey)
  const SK = HKDF(new Uint8Array(0), cat(new Uint8Array(32).fill(0xff), DH1, DH2, DH3, DH4),
    cat(ascii('aqua-x3dh-v1'), peer.identityKey, me.identityKey), 32)
  const OUT = HKDF(new Uint8Array(0), SK, ascii('aqua-session-keys-v1'), 160)
  const sess = {
    peerIK: peer.identityKey, peerCard: peer, initiator: false, ek: pk.ek,
    HKs: OUT.slice(64, 96), HKr: OUT.slice(32, 64), TAGs: OUT.slice(128, 160), TAGr: OUT.slice(96, 128),
    sendSeq: 0n, recvHigh: 0n, missing: new Set(),
    r: { RK: OUT.slice(0, 32), CKs: null, CKr: null, DHs: { sec: me.keys.spkSec, pub: me.keys.spk }, DHr: null, Ns: 0, Nr: 0, PN: 0, skipped: new Map() }
  }
  return sess
}

function findSeq (sess, tag) {
  for (const s of sess.missing) if (eq(tagOf(sess.TAGr, s), tag)) return s
  for (let s = sess.recvHigh; s < sess.recvHigh + TAG_WINDOW; s++) if (eq(tagOf(sess.TAGr, s), tag)) return s
  return -1n
}

// open an envelope in sess (new responder session or existing); returns { S, plaintext, messageId }
export function openIn (env, sess, e) {
  const S = findSeq(sess, e.tag)
  if (S < 0n) throw new Error('unknown_session (tag not in window)')
  const header = AEAD_open(sess.HKr, cat(new Uint8Array(4), u64(S)), e.AD, e.encHeader)
  const k = receiveKey(sess.r, env, header)
  const pt = AEAD_open(k.mk, new Uint8Array(12), cat(e.AD, e.encHeader), e.ct)
  // commit
  sess.r = k.r
  if (S >= sess.recvHigh) { for (let s = sess.recvHigh; s < S; s++) sess.missing.add(s); sess.recvHigh = S + 1n } else sess.missing.delete(S)
  sess.lastHeader = { dh: L.hex(k.dh), pn: k.pn, n: k.n }
  return { S, plaintext: pt, messageId: L.hex(e.messageId) }
}

// seal a session envelope (kind 2) in sess (responder: send_prekey is never set)
export function sealSession (sess, { messageId, expiresMs, payload }) {
  if (!sess.r.CKs) throw new Error('cannot send before first receive')
  const recipient = peerIdBytes(sess.peerIK)
  const S = sess.sendSeq; sess.sendSeq += 1n
  const tag = tagOf(sess.TAGs, S)
  const [ck, mk] = kdfCK(sess.r.CKs); sess.r.CKs = ck
  const header = cat(sess.r.DHs.pub, u32(sess.r.PN), u32(sess.r.Ns)); sess.r.Ns += 1
  const head = cat(Uint8Array.of(0x01, 0x02, recipient.length), recipient, messageId, u64(expiresMs))
  const AD = cat(ascii('aqua-envelope-v1'), head, tag)
  const encHeader = AEAD(sess.HKs, cat(new Uint8Array(4), u64(S)), AD, header)
  const ct = AEAD(mk, new Uint8Array(12), cat(AD, encHeader), payload)
  const body = cat(tag, encHeader, ct)
  return { envelope: cat(head, u32(body.length), body), S }
}

// inner frames (delivery.md, "Inner payload framing")
export function parseInner (pt) {
  if (pt.length === 0) throw new Error('bad_envelope: empty inner')
  if (pt[0] === 1) return { type: 'message', text: Buffer.from(pt.subarray(1)).toString() }
  if (pt[0] === 3) { const t = pt[1]; return { type: 'message', topic: Buffer.from(pt.subarray(2, 2 + t)).toString(), text: Buffer.from(pt.subarray(2 + t)).toString() } }
  if (pt[0] === 2) {
    const n = (pt[1] << 8) | pt[2]
    if (pt.length !== 3 + 16 * n) throw new Error('bad_envelope: ack length')
    return { type: 'ack', ids: Array.from({ length: n }, (_, i) => L.hex(pt.subarray(3 + 16 * i, 19 + 16 * i))) }
  }
  throw new Error('bad_envelope: inner type ' + pt[0])
}
export const ackFrame = (ids) => cat(Uint8Array.of(0x02), L.u16(ids.length), ...ids.map(L.unhex))
export const msgFrame = (text) => cat(Uint8Array.of(0x01), ascii(text))
