// aqua_spec.mjs — independent implementation of aqua's card / X3DH / envelope formats,
// written from docs/protocol/{cards,sessions,envelope,delivery,mailbox}.md only.
import { ed25519, x25519 } from '@noble/curves/ed25519'
import { hkdf } from '@noble/hashes/hkdf'
import { sha256, sha512 } from '@noble/hashes/sha2'
import { blake2b } from '@noble/hashes/blake2b'
import { chacha20poly1305, chacha20 } from '@noble/ciphers/chacha'
import { randomBytes } from 'node:crypto'
import { base58btc } from 'multiformats/bases/base58'

export const te = new TextEncoder()
export const ascii = (s) => te.encode(s)
export const hex = (b) => Buffer.from(b).toString('hex')
export const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'))
export function cat (...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0)
  const out = new Uint8Array(n); let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}
export const u16 = (v) => { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, v); return b }
export const u32 = (v) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0); return b }
export const u64 = (v) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v)); return b }
const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i])

// ---------------------------------------------------------------- randomness
// env.random(n): production = OS RNG; test = cards.md "Test vectors" deterministic_env.
export const osEnv = { random: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now() }
export function deterministicEnv (seedByte, nowMs) {
  let i = 0n
  return {
    now: () => nowMs,
    random (n) {
      const key = new Uint8Array(32).fill(seedByte)
      const x = new Uint8Array(8); new DataView(x.buffer).setBigUint64(0, i, true) // little-endian
      for (let k = 0; k < 8; k++) key[24 + k] ^= x[k]
      i++
      return chacha20(key, ascii('LibsodiumDRG'), new Uint8Array(n), undefined, 0)
    }
  }
}

// ---------------------------------------------------------------- primitives
export const X25519 = (sec, pub) => x25519.getSharedSecret(sec, pub)
export const x25519Pub = (sec) => x25519.getPublicKey(sec)
export const HKDF = (salt, ikm, info, L) => hkdf(sha256, ikm, salt.length ? salt : new Uint8Array(32), info, L)
export const BLAKE2b = (k, m, L) => blake2b(m, { key: k, dkLen: L })
export const AEAD = (k, n, ad, p) => chacha20poly1305(k, n, ad).encrypt(p)
export const AEAD_open = (k, n, ad, c) => chacha20poly1305(k, n, ad).decrypt(c)

// ---------------------------------------------------------------- peer IDs
export const PEER_ID_PREFIX = Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
export const peerIdBytes = (K) => cat(PEER_ID_PREFIX, K)
export const peerIdText = (K) => base58btc.encode(peerIdBytes(K)).slice(1) // drop multibase 'z'
export function peerIdFromText (s) {
  const b = base58btc.decode('z' + s)
  if (b.length !== 38 || !eq(b.subarray(0, 6), PEER_ID_PREFIX)) throw new Error('bad peer id')
  return b
}

// ---------------------------------------------------------------- base64url (strict, unpadded)
export function b64urlDecodeStrict (s) {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('bad_card: base64url alphabet')
  if (s.length % 4 === 1) throw new Error('bad_card: base64url length')
  const out = new Uint8Array(Buffer.from(s, 'base64url'))
  // non-zero unused bits in the last character are refused (libsodium)
  if (Buffer.from(out).toString('base64url') !== s) throw new Error('bad_card: non-canonical base64url')
  return out
}
export const b64urlEncode = (b) => Buffer.from(b).toString('base64url') // Node writes no padding

// ---------------------------------------------------------------- cards (cards.md)
const CARD_CTX = ascii('aqua-card-v1')
const CAP_RE = /^[a-z0-9._/-]{1,64}$/

export function cardBody (c) {
  const parts = [Uint8Array.of(1), c.identityKey, c.agreementKey, u32(c.spkId), c.spk, u16(c.addresses.length)]
  for (const a of c.addresses) { const t = ascii(a); parts.push(u16(t.length), t) }
  parts.push(u16(c.otpks.length))
  for (const { id, key } of c.otpks) parts.push(u32(id), key)
  parts.push(u16(c.capabilities.length))
  for (const cap of c.capabilities) { const t = ascii(cap); parts.push(u16(t.length), t) }
  parts.push(u64(c.createdMs), u64(c.expiresMs))
  return cat(...parts)
}
export function signCard (c, edSecretSeed) {
  const body = cardBody(c)
  const sig = ed25519.sign(cat(CARD_CTX, body), edSecretSeed)
  return cat(body, sig)
}

export function decodeCard (bytes) {
  let o = 0
  const need = (n, what) => { if (o + n > bytes.length) throw new Error(`bad_card: truncated (${what})`) }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  need(1, 'version'); if (bytes[0] !== 1) throw new Error('unknown_version'); o = 1
  need(100, 'fixed part')
  const identityKey = bytes.slice(1, 33); const agreementKey = bytes.slice(33, 65)
  const spkId = dv.getUint32(65); const spk = bytes.slice(69, 101); o = 101
  const rd16 = () => { need(2, 'u16'); const v = dv.getUint16(o); o += 2; return v }
  const A = rd16(); if (A > 16) throw new Error('bad_card: too many addresses')
  const addresses = []
  for (let i = 0; i < A; i++) {
    const n = rd16(); if (n > 256) throw new Error('bad_card: address too long')
    need(n, 'address'); addresses.push(Buffer.from(bytes.subarray(o, o + n)).toString('latin1')); o += n
  }
  for (const a of addresses) if (!a.startsWith('/') || a.split('/').slice(1).some(x => x === '')) throw new Error('bad_card: multiaddr ' + a)
  const K = rd16(); if (K > 100) throw new Error('bad_card: too many one-time prekeys')
  const otpks = []
  for (let i = 0; i < K; i++) {
    need(36, 'one-time prekey'); const id = dv.getUint32(o)
    if (id === 0xFFFFFFFF) throw new Error('bad_card: one-time prekey id 0xFFFFFFFF')
    otpks.push({ id, key: bytes.slice(o + 4, o + 36) }); o += 36
  }
  const C = rd16(); if (C > 32) throw new Error('bad_card: too many capabilities')
  const capabilities = []
  for (let i = 0; i < C; i++) {
    const n = rd16(); if (n > 64) throw new Error('bad_card: capability too long')
    need(n, 'capability'); capabilities.push(Buffer.from(bytes.subarray(o, o + n)).toString('latin1')); o += n
  }
  for (const c of capabilities) if (!CAP_RE.test(c)) throw new Error('bad_card: capability ' + c)
  need(16, 'timestamps')
  const createdMs = dv.getBigUint64(o); const expiresMs = dv.getBigUint64(o + 8); o += 16
  const MAX = (1n << 63n) - 1n
  if (createdMs > MAX || expiresMs > MAX) throw new Error('bad_card: timestamp out of range')
  if (!(expiresMs > createdMs)) throw new Error('bad_card: expires <= created')
  need(64, 'signature'); const body = bytes.subarray(0, o); const signature = bytes.slice(o, o + 64); o += 64
  if (o !== bytes.length) throw new Error('bad_card: trailing bytes')
  return { identityKey, agreementKey, spkId, spk, addresses, otpks, capabilities, createdMs, expiresMs, body, signature, bytes }
}
export function verifyCard (bytes, nowMs, { checkTime = true } = {}) {
  const c = decodeCard(bytes)
  // zip215:false = RFC 8032 strict (canonical S, canonical A/R encodings), closest to libsodium
  let ok = false
  try { ok = ed25519.verify(c.signature, cat(CARD_CTX, c.body), c.identityKey, { zip215: false }) } catch { ok = false }
  if (!ok) throw new Error('bad_card_signature')
  // libsodium also refuses small-order public keys
  if (ed25519.ExtendedPoint.fromHex(c.identityKey).isSmallOrder()) throw new Error('bad_card_signature: small order key')
  if (checkTime) {
    if (!(BigInt(nowMs) < c.expiresMs)) throw new Error('card_expired')
    if (!(c.createdMs <= BigInt(nowMs) + 300000n)) throw new Error('bad_card: created in the future')
  }
  return c
}
export function cardFromText (text) {
  const t = text.replace(/^[ \n\r\t]+|[ \n\r\t]+$/g, '')
  if (!t.startsWith('aqua-card-v1:')) throw new Error('bad_card: prefix')
  const rest = t.slice('aqua-card-v1:'.length)
  if (rest.length > 65536) throw new Error('bad_card: too long')
  return b64urlDecodeStrict(rest)
}
export const cardToText = (bytes) => 'aqua-card-v1:' + b64urlEncode(bytes)

export function safetyCode (a, b) {
  let lo = a; let hi = b
  for (let i = 0; i < 32; i++) { if (a[i] !== b[i]) { if (a[i] > b[i]) { lo = b; hi = a } break } }
  const h = sha512(cat(CARD_CTX, lo, hi))
  let s = ''
  for (let g = 0; g < 12; g++) {
    let v = 0n
    for (let k = 0; k < 5; k++) v = (v << 8n) | BigInt(h[5 * g + k])
    if (g >= 1) s += (g % 4 === 0) ? ' / ' : ' '
    s += String(v % 100000n).padStart(5, '0')
  }
  return s
}

// ---------------------------------------------------------------- engine-ish: own keys
// engine::create: AK, then SPK ID 1, then 20 OPKs with IDs 1..20
export function createEngineKeys (env, nOtpk = 20) {
  const akSec = env.random(32); const spkSec = env.random(32)
  const otpks = []
  for (let i = 1; i <= nOtpk; i++) { const sec = env.random(32); otpks.push({ id: i, sec, key: x25519Pub(sec) }) }
  return { akSec, ak: x25519Pub(akSec), spkId: 1, spkSec, spk: x25519Pub(spkSec), otpks }
}

// ---------------------------------------------------------------- X3DH initiator + first envelope
export const tagOf = (tagKey, S) => BLAKE2b(tagKey, cat(ascii('aqua-tag-v1'), u64(S)), 16)
export function kdfRK (rk, dh) { const o = HKDF(rk, dh, ascii('aqua-ratchet-v1'), 64); return [o.slice(0, 32), o.slice(32, 64)] }
export function kdfCK (ck) { const o = BLAKE2b(ck, ascii('aqua-chain-v1'), 64); return [o.slice(0, 32), o.slice(32, 64)] }

// me: { identityKey (32), keys: createEngineKeys(), cardBytes }
// peer: decoded verified card
export function x3dhInitiate (env, me, peer) {
  const ekSec = env.random(32); const ekPub = x25519Pub(ekSec)
  let opk = null
  if (peer.otpks.length > 0) {
    const r = env.random(4); const v = new DataView(r.buffer, r.byteOffset).getUint32(0)
    opk = peer.otpks[v % peer.otpks.length]
  }
  const DH1 = X25519(me.keys.akSec, peer.spk)
  const DH2 = X25519(ekSec, peer.agreementKey)
  const DH3 = X25519(ekSec, peer.spk)
  const DH4 = opk ? X25519(ekSec, opk.key) : new Uint8Array(0)
  const SK = HKDF(new Uint8Array(0), cat(new Uint8Array(32).fill(0xff), DH1, DH2, DH3, DH4),
    cat(ascii('aqua-x3dh-v1'), me.identityKey, peer.identityKey), 32)
  const IDK = HKDF(new Uint8Array(0), cat(DH3, DH2), ascii('aqua-x3dh-identity-v1'), 32)
  const ID_AD = cat(ascii('aqua-x3dh-identity-v1'), peerIdBytes(peer.identityKey), ekPub)
  const identityBlock = AEAD(IDK, new Uint8Array(12), ID_AD, me.cardBytes)
  const OUT = HKDF(new Uint8Array(0), SK, ascii('aqua-session-keys-v1'), 160)
  const sess = {
    peerIK: peer.identityKey,
    root: OUT.slice(0, 32), HKs: OUT.slice(32, 64), HKr: OUT.slice(64, 96), TAGs: OUT.slice(96, 128), TAGr: OUT.slice(128, 160),
    ekPub, spkId: peer.spkId, opkId: opk ? opk.id : 0xFFFFFFFF, identityBlock, sendSeq: 0n
  }
  // ratchet init (initiator)
  const dhsSec = env.random(32)
  sess.DHs = { sec: dhsSec, pub: x25519Pub(dhsSec) }
  sess.DHr = peer.spk
  ;[sess.RK, sess.CKs] = kdfRK(sess.root, X25519(dhsSec, peer.spk))
  sess.Ns = 0; sess.Nr = 0; sess.PN = 0
  return sess
}

export function sealPrekey (sess, { messageId, expiresMs, payload }) {
  const recipient = peerIdBytes(sess.peerIK)
  const S = sess.sendSeq; sess.sendSeq += 1n
  const tag = tagOf(sess.TAGs, S)
  const [ck, mk] = kdfCK(sess.CKs); sess.CKs = ck
  const header = cat(sess.DHs.pub, u32(sess.PN), u32(sess.Ns)); sess.Ns += 1
  const head = cat(Uint8Array.of(0x01, 0x01, recipient.length), recipient, messageId, u64(expiresMs))
  const prekeyBlock = cat(sess.ekPub, u32(sess.spkId), u32(sess.opkId), u16(sess.identityBlock.length), sess.identityBlock)
  const AD = cat(ascii('aqua-envelope-v1'), head, prekeyBlock, tag)
  const encHeader = AEAD(sess.HKs, cat(new Uint8Array(4), u64(S)), AD, header)
  const ct = AEAD(mk, new Uint8Array(12), cat(AD, encHeader), payload)
  const body = cat(prekeyBlock, tag, encHeader, ct)
  return cat(head, u32(body.length), body)
}

// Open a session envelope (kind 2) from the responder, initiator side, first message in r2i direction.
export function openSessionReply (sess, env) {
  const dv = new DataView(env.buffer, env.byteOffset, env.byteLength)
  if (env[0] !== 1 || env[1] !== 2) throw new Error('not a v1 session envelope (kind ' + env[1] + ')')
  const N = env[2]; const hlen = 3 + N + 16 + 8
  const B = dv.getUint32(hlen); const body = env.subarray(hlen + 4)
  if (body.length !== B) throw new Error('bad_envelope: body length')
  const messageId = env.subarray(3 + N, 19 + N)
  const tag = body.subarray(0, 16)
  let S = -1n
  for (let s = 0n; s < 64n; s++) if (eq(tagOf(sess.TAGr, s), tag)) { S = s; break }
  if (S < 0n) throw new Error('unknown_session (tag not found)')
  const AD = cat(ascii('aqua-envelope-v1'), env.subarray(0, hlen), tag)
  const encHeader = body.subarray(16, 72)
  const header = AEAD_open(sess.HKr, cat(new Uint8Array(4), u64(S)), AD, encHeader)
  const dh = header.subarray(0, 32); const n = new DataView(header.buffer, header.byteOffset).getUint32(36)
  // DH ratchet step (DHr is SPK_r, the reply's dh is new)
  const [rk1, ckr] = kdfRK(sess.RK, X25519(sess.DHs.sec, dh))
  let ck = ckr; let mk
  for (let i = 0; i <= n; i++) [ck, mk] = kdfCK(ck)
  const pt = AEAD_open(mk, new Uint8Array(12), cat(AD, encHeader), body.subarray(72))
  return { S, messageId: hex(messageId), header: { dh: hex(dh), n }, plaintext: pt, rk1 }
}

// ---------------------------------------------------------------- mailbox protobuf (mailbox.md)
export function uvarint (n) {
  n = BigInt(n); const out = []
  do { let b = Number(n & 0x7fn); n >>= 7n; if (n) b |= 0x80; out.push(b) } while (n)
  return Uint8Array.from(out)
}
function readVarint (b, o) {
  let v = 0n; let s = 0n
  for (let i = 0; i < 10; i++) {
    const x = b[o++]; if (x === undefined) throw new Error('truncated varint')
    v |= BigInt(x & 0x7f) << s; s += 7n
    if (!(x & 0x80)) return [v, o]
  }
  throw new Error('varint too long')
}
export function encodeDeposit (recipient, envelope, ttlS) {
  const parts = [Uint8Array.of(0x08, 0x00), Uint8Array.of(0x12), uvarint(recipient.length), recipient,
    Uint8Array.of(0x1a), uvarint(envelope.length), envelope]
  if (ttlS) parts.push(Uint8Array.of(0x20), uvarint(ttlS))
  return cat(...parts)
}
export const encodeFetch = () => Uint8Array.of(0x08, 0x02)
export function encodeAck (ids) {
  const packed = cat(...ids.map(uvarint))
  return cat(Uint8Array.of(0x08, 0x04, 0x42), uvarint(packed.length), packed)
}
export function decodeMailboxMessage (b) {
  const m = { mail: [], ids: [] }; let o = 0
  while (o < b.length) {
    let key; [key, o] = readVarint(b, o)
    const field = Number(key >> 3n); const wt = Number(key & 7n)
    if (wt === 0) { let v; [v, o] = readVarint(b, o); if (field === 1) m.type = Number(v); else if (field === 4) m.ttl_s = Number(v); else if (field === 5) m.status = Number(v); else if (field === 8) m.ids.push(v) } else if (wt === 2) {
      let len; [len, o] = readVarint(b, o); const v = b.subarray(o, o + Number(len)); o += Number(len)
      if (field === 2) m.recipient = v; else if (field === 3) m.envelope = v; else if (field === 6) m.text = Buffer.from(v).toString()
      else if (field === 7) m.mail.push(decodeMail(v))
      else if (field === 8) { let p = 0; while (p < v.length) { let x; [x, p] = readVarint(v, p); m.ids.push(x) } }
    } else throw new Error('unexpected wire type ' + wt)
  }
  return m
}
function decodeMail (b) {
  const m = {}; let o = 0
  while (o < b.length) {
    let key; [key, o] = readVarint(b, o)
    const field = Number(key >> 3n); const wt = Number(key & 7n)
    if (wt === 0) { let v; [v, o] = readVarint(b, o); if (field === 1) m.id = v } else if (wt === 2) {
      let len; [len, o] = readVarint(b, o); const v = b.subarray(o, o + Number(len)); o += Number(len)
      if (field === 2) m.envelope = v; else if (field === 3) m.depositor = v
    } else throw new Error('unexpected wire type ' + wt)
  }
  return m
}
export const STATUS = { 100: 'OK', 200: 'REFUSED', 201: 'QUOTA_EXCEEDED', 202: 'TOO_LARGE', 203: 'EXPIRED', 204: 'BAD_ENVELOPE', 400: 'MALFORMED_MESSAGE', 401: 'UNEXPECTED_MESSAGE', 500: 'INTERNAL_ERROR' }

// Initiator's first session envelope (kind 2) after the responder's first reply arrived (chain with ratchet key replyDh):
// DH ratchet step on receive, then the sending step, then seal with header (DHs'.pub, PN = Ns, 0).
export function sealSessionAfterReply (env, sess, replyDh, { messageId, expiresMs, payload }) {
  const [rk1] = kdfRK(sess.RK, X25519(sess.DHs.sec, replyDh))
  const sec = env.random(32)
  const DHs = { sec, pub: x25519Pub(sec) }
  const [rk2, cks] = kdfRK(rk1, X25519(sec, replyDh))
  const PN = sess.Ns
  const [, mk] = kdfCK(cks)
  const header = cat(DHs.pub, u32(PN), u32(0))
  const S = sess.sendSeq
  const recipient = peerIdBytes(sess.peerIK)
  const tag = tagOf(sess.TAGs, S)
  const head = cat(Uint8Array.of(0x01, 0x02, recipient.length), recipient, messageId, u64(expiresMs))
  const AD = cat(ascii('aqua-envelope-v1'), head, tag)
  const encHeader = AEAD(sess.HKs, cat(new Uint8Array(4), u64(S)), AD, header)
  const ct = AEAD(mk, new Uint8Array(12), cat(AD, encHeader), payload)
  const body = cat(tag, encHeader, ct)
  return cat(head, u32(body.length), body)
}
