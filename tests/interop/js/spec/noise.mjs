// noise.mjs — Noise_XX_25519_ChaChaPoly_SHA256 with the libp2p handshake payload, from docs/protocol/noise.md only.
import { x25519, ed25519 } from '@noble/curves/ed25519'
import { sha256 } from '@noble/hashes/sha2'
import { hmac } from '@noble/hashes/hmac'
import { chacha20poly1305 } from '@noble/ciphers/chacha'
import { cat, ascii, peerIdText } from './aqua_spec.mjs'

const NAME = ascii('Noise_XX_25519_ChaChaPoly_SHA256')
const H = (...p) => sha256(cat(...p))
const HMAC = (k, d) => hmac(sha256, k, d)
export function HKDF2 (ck, ikm) { const t = HMAC(ck, ikm); const o1 = HMAC(t, Uint8Array.of(1)); const o2 = HMAC(t, cat(o1, Uint8Array.of(2))); return [o1, o2] }
const nonce = (n) => { const b = new Uint8Array(12); new DataView(b.buffer).setBigUint64(4, BigInt(n), true); return b }
export class NoiseError extends Error { constructor (code, msg) { super(`${code}: ${msg}`); this.code = code } }

export class CipherState {
  constructor (k) { this.k = k; this.n = 0n; this.dead = false }
  encrypt (ad, p) {
    if (this.dead) throw new NoiseError('connection_closed', 'used after failure')
    if (p.length > 65519) throw new NoiseError('frame_too_large', 'plaintext over 65519')
    const c = chacha20poly1305(this.k, nonce(this.n), ad).encrypt(p); this.n++; return c
  }
  decrypt (ad, c) {
    if (this.dead) throw new NoiseError('connection_closed', 'used after failure')
    if (c.length > 65535) { this.dead = true; throw new NoiseError('frame_too_large', 'message over 65535') }
    if (c.length < 16) { this.dead = true; throw new NoiseError('decrypt_failed', 'message under 16') }
    try { const p = chacha20poly1305(this.k, nonce(this.n), ad).decrypt(c); this.n++; return p } catch { this.dead = true; throw new NoiseError('decrypt_failed', 'bad tag') }
  }
}

// protobuf helpers for the payload
function varint (b, o) { let v = 0; let s = 0; for (let i = 0; i < 5; i++) { const x = b[o++]; if (x === undefined) throw new NoiseError('bad_frame', 'truncated varint'); v += (x & 0x7f) * 2 ** s; s += 7; if (!(x & 0x80)) return [v, o] } throw new NoiseError('bad_frame', 'varint') }
function fields (b, err = 'bad_frame') {
  const out = []; let o = 0
  while (o < b.length) {
    let key; [key, o] = varint(b, o); const f = Math.floor(key / 8); const wt = key & 7
    if (wt === 0) { let v; [v, o] = varint(b, o); out.push({ f, wt, v }) } else if (wt === 2) { let n; [n, o] = varint(b, o); if (o + n > b.length) throw new NoiseError(err, 'truncated'); out.push({ f, wt, v: b.subarray(o, o + n) }); o += n } else if (wt === 5) { o += 4; out.push({ f, wt }) } else if (wt === 1) { o += 8; out.push({ f, wt }) } else throw new NoiseError(err, 'wire type ' + wt)
    if (o > b.length) throw new NoiseError(err, 'truncated')
  }
  return out
}
export const ed25519PublicKeyProto = (ik) => cat(Uint8Array.of(0x08, 0x01, 0x12, 0x20), ik)
export function makePayload (identitySeed, staticPub, { identityKeyOverride } = {}) {
  const ik = identityKeyOverride ?? ed25519.getPublicKey(identitySeed)
  const sig = ed25519.sign(cat(ascii('noise-libp2p-static-key:'), staticPub), identitySeed)
  const pk = ed25519PublicKeyProto(ik)
  return cat(Uint8Array.of(0x0a, pk.length), pk, Uint8Array.of(0x12, 0x40), sig)
}
export function verifyPayload (payload, rs) {
  const fs = fields(payload)
  const ik = fs.filter(x => x.f === 1); const sig = fs.filter(x => x.f === 2)
  for (const x of fs) if ((x.f === 1 || x.f === 2 || x.f === 4) && x.wt !== 2) throw new NoiseError('bad_frame', 'wire type of field ' + x.f)
  if (ik.length > 1 || sig.length > 1) throw new NoiseError('bad_frame', 'repeated field')
  if (ik.length === 0) throw new NoiseError('bad_public_key_encoding', 'no identity_key')
  const pk = fields(ik[0].v, 'bad_public_key_encoding')
  const T = pk.filter(x => x.f === 1); const D = pk.filter(x => x.f === 2)
  if (T.length !== 1 || D.length !== 1) throw new NoiseError('bad_public_key_encoding', 'Type/Data')
  if (T[0].v !== 1) throw new NoiseError('wrong_key_type', 'type ' + T[0].v)
  if (D[0].v.length !== 32) throw new NoiseError('wrong_key_length', 'len ' + D[0].v.length)
  if (sig.length === 0) throw new NoiseError('bad_signature', 'no sig')
  let ok = false
  try { ok = ed25519.verify(sig[0].v, cat(ascii('noise-libp2p-static-key:'), rs), D[0].v, { zip215: false }) } catch {}
  if (!ok) throw new NoiseError('bad_signature', 'signature does not verify')
  return { identityKey: Uint8Array.from(D[0].v), peerId: peerIdText(D[0].v) }
}

// XX handshake, both roles. opts: { identitySeed, rng(n), expectedPeer (initiator), payloadOverride(sPub) }
export class Handshake {
  constructor (initiator, opts) {
    this.initiator = initiator; this.o = opts
    this.h = NAME; this.ck = NAME; this.k = null; this.n = 0n
    this.h = H(this.h, opts.prologue ?? new Uint8Array(0))
    this.s = opts.staticSecret ?? opts.rng(32); this.sPub = x25519.getPublicKey(this.s)
    this.e = opts.ephemeralSecret ?? opts.rng(32); this.ePub = x25519.getPublicKey(this.e)
    this.step = 0
  }
  mixHash (d) { this.h = H(this.h, d) }
  mixKey (ikm) { [this.ck, this.k] = HKDF2(this.ck, ikm); this.n = 0n }
  dh (a, b) { const r = x25519.getSharedSecret(a, b); if (r.every(x => x === 0)) throw new NoiseError('crypto_failure', 'low order'); return r }
  encAndHash (p) { let c = p; if (this.k) { c = chacha20poly1305(this.k, nonce(this.n), this.h).encrypt(p); this.n++ } this.mixHash(c); return c }
  decAndHash (c) { let p = c; if (this.k) { try { p = chacha20poly1305(this.k, nonce(this.n), this.h).decrypt(c) } catch { throw new NoiseError('decrypt_failed', 'handshake tag') } this.n++ } this.mixHash(c); return p }
  payload () { return this.o.payloadOverride ? this.o.payloadOverride(this.sPub) : makePayload(this.o.identitySeed, this.sPub) }
  // initiator
  writeMessage1 () { this.mixHash(this.ePub); this.mixHash(new Uint8Array(0)); return Uint8Array.from(this.ePub) }
  readMessage2 (m) {
    if (m.length < 96) throw new NoiseError('bad_frame', 'message 2 short')
    this.re = m.subarray(0, 32); this.mixHash(this.re)
    this.mixKey(this.dh(this.e, this.re))
    this.rs = this.decAndHash(m.subarray(32, 80))
    this.mixKey(this.dh(this.e, this.rs))
    const pl = this.decAndHash(m.subarray(80))
    this.remote = verifyPayload(pl, this.rs)
    if (this.o.expectedPeer && this.remote.peerId !== this.o.expectedPeer) throw new NoiseError('wrong_recipient', `dialled ${this.o.expectedPeer} but the responder proved identity ${this.remote.peerId}`)
    return this.remote
  }
  writeMessage3 () {
    const c1 = this.encAndHash(this.sPub)
    this.mixKey(this.dh(this.s, this.re))
    const c2 = this.encAndHash(this.payload())
    return cat(c1, c2)
  }
  // responder
  readMessage1 (m) { if (m.length !== 32) throw new NoiseError('bad_frame', 'message 1 not 32 bytes'); this.re = m; this.mixHash(m); this.mixHash(new Uint8Array(0)) }
  writeMessage2 () {
    this.mixHash(this.ePub); this.mixKey(this.dh(this.e, this.re))
    const c1 = this.encAndHash(this.sPub); this.mixKey(this.dh(this.s, this.re))
    return cat(this.ePub, c1, this.encAndHash(this.payload()))
  }
  readMessage3 (m) {
    if (m.length < 64) throw new NoiseError('bad_frame', 'message 3 short')
    this.rs = this.decAndHash(m.subarray(0, 48)); this.mixKey(this.dh(this.e, this.rs))
    this.remote = verifyPayload(this.decAndHash(m.subarray(48)), this.rs); return this.remote
  }
  split () {
    const [k1, k2] = HKDF2(this.ck, new Uint8Array(0))
    const i2r = new CipherState(k1); const r2i = new CipherState(k2)
    return this.initiator ? { send: i2r, recv: r2i, hash: this.h } : { send: r2i, recv: i2r, hash: this.h }
  }
}
