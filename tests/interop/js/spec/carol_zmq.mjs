#!/usr/bin/env node
// carol_zmq.mjs — carol, written from the docs only, talks to bob's direct zmq transport:
// ZMTP 3.1 DEALER over TCP -> Noise XX (libp2p payload) -> one prekey envelope (0x01 || text) -> bob's ack.
//   node carol_zmq.mjs --port P --card BOB_CARD_FILE --text TEXT [--expect-peer PEERID] [--state OUT.json]
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ed25519 } from '@noble/curves/ed25519'
import * as L from './aqua_spec.mjs'
import { dialSecure } from './link.mjs'

const log = (...a) => console.error('[carol]', ...a)
const { values: args } = parseArgs({ options: { port: { type: 'string' }, card: { type: 'string' }, text: { type: 'string', default: 'hello from carol over zmq' }, 'expect-peer': { type: 'string' }, state: { type: 'string' } } })
const hard = setTimeout(() => { log('global timeout'); process.exit(3) }, 30000)

const env = L.osEnv; const now = env.now()
const bob = L.verifyCard(L.cardFromText(readFileSync(args.card, 'utf8')), now)
const bobPeer = L.peerIdText(bob.identityKey)
const expected = args['expect-peer'] ?? bobPeer
log('bob card verified:', bobPeer, 'addresses', bob.addresses, '; expecting', expected)

const seed = env.random(32); const carolIK = ed25519.getPublicKey(seed); const carolPeer = L.peerIdText(carolIK)
const keys = L.createEngineKeys(env)
const card = L.signCard({ identityKey: carolIK, agreementKey: keys.ak, spkId: keys.spkId, spk: keys.spk, addresses: [], otpks: keys.otpks.map(({ id, key }) => ({ id, key })), capabilities: ['chat'], createdMs: now, expiresMs: now + 30 * 86400000 }, seed)
log('carol:', carolPeer)

let link
try {
  link = await dialSecure({ port: Number(args.port), expectedPeer: expected, identitySeed: seed, log })
} catch (e) {
  console.log(JSON.stringify({ event: 'refused', error: e.code ?? 'error', message: e.message }))
  process.exit(e.code === 'wrong_recipient' ? 4 : 1)
}
const sess = L.x3dhInitiate(env, { identityKey: carolIK, keys, cardBytes: card }, bob)
const messageId = env.random(16)
const envelope = L.sealPrekey(sess, { messageId, expiresMs: now + 3600000, payload: L.cat(Uint8Array.of(0x01), L.ascii(args.text)) })
log('sending prekey envelope', envelope.length, 'bytes, message id', L.hex(messageId))
await link.sendFrame(envelope)

let result = { event: 'no_ack', carol: carolPeer, bob: bobPeer, message_id: L.hex(messageId) }
const until = Date.now() + 15000
while (Date.now() < until) {
  const r = await link.recvFrame(until - Date.now())
  if (!r.frame) { log('link:', JSON.stringify(r)); if (r.closed || r.reset) break; continue }
  try {
    const o = L.openSessionReply(sess, r.frame)
    const pt = o.plaintext
    const rec = { envelope_bytes: r.frame.length, kind: r.frame[1], S: o.S.toString(), message_id: o.messageId, inner_type: pt[0] }
    if (pt[0] === 0x02) {
      const n = (pt[1] << 8) | pt[2]
      rec.acked_ids = Array.from({ length: n }, (_, i) => L.hex(pt.subarray(3 + 16 * i, 19 + 16 * i)))
      rec.acks_our_message = rec.acked_ids.includes(L.hex(messageId))
      result = { event: rec.acks_our_message ? 'acked' : 'ack_other', carol: carolPeer, bob: bobPeer, sent_message_id: L.hex(messageId), ack: rec }
      if (rec.acks_our_message) break
    } else log('non-ack envelope', JSON.stringify(rec))
  } catch (e) { log('frame did not open:', e.message) }
}
if (args.state) writeFileSync(args.state, JSON.stringify({ carol: carolPeer, message_id: L.hex(messageId), text: args.text }))
console.log(JSON.stringify(result))
link.close(); clearTimeout(hard)
process.exit(result.event === 'acked' ? 0 : 1)
