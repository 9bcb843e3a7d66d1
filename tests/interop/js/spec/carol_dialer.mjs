#!/usr/bin/env node
// carol_dialer.mjs — a dial-only spec peer (no reservation, card without addresses) that starts a session with bob
// live: dials bob's circuit address, sends one prekey envelope on /aqua/msg/1.0.0, then either closes its write
// half at once (--fin, aqua-msg.md "Closing": a sender may, and still reads what it is owed) or keeps it open,
// and waits --wait-ms for bob's ack on the same stream.
//   node carol_dialer.mjs --bob-card FILE --text TEXT [--fin] [--wait-ms 6000]
import '../lib/polyfill.mjs'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ed25519 } from '@noble/curves/ed25519'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { pushable } from 'it-pushable'
import * as lp from 'it-length-prefixed'
import * as L from './aqua_spec.mjs'
import { isLoop } from './loopback_node.mjs'

const { values: args } = parseArgs({ options: { 'bob-card': { type: 'string' }, text: { type: 'string' }, fin: { type: 'boolean', default: false }, 'wait-ms': { type: 'string', default: '6000' } } })
const emit = (o) => console.log(JSON.stringify(o))
const hard = setTimeout(() => { emit({ event: 'error', error: 'global timeout' }); process.exit(3) }, 60000)
const env = L.osEnv; const now = Date.now()
const bob = L.verifyCard(L.cardFromText(readFileSync(args['bob-card'], 'utf8')), now)
const seed = env.random(32); const carolIK = ed25519.getPublicKey(seed); const keys = L.createEngineKeys(env)
const card = L.signCard({ identityKey: carolIK, agreementKey: keys.ak, spkId: keys.spkId, spk: keys.spk, addresses: [], otpks: [], capabilities: [], createdMs: now, expiresMs: now + 86400000 }, seed)
const sess = L.x3dhInitiate(env, { identityKey: carolIK, keys, cardBytes: card }, bob)
const messageId = env.random(16)
const envelope = L.sealPrekey(sess, { messageId, expiresMs: now + 3600000, payload: L.cat(Uint8Array.of(1), L.ascii(args.text)) })
const node = await createLibp2p({
  privateKey: await generateKeyPairFromSeed('Ed25519', seed),
  transports: [tcp(), circuitRelayTransport()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
  connectionGater: { denyDialMultiaddr: async (ma) => !isLoop(ma) },
  services: { identify: identify(), ping: ping() }
})
const addr = bob.addresses.find(a => a.includes('/p2p-circuit'))
const conn = await node.dial(multiaddr(addr), { signal: AbortSignal.timeout(15000) })
const stream = await conn.newStream('/aqua/msg/1.0.0', { runOnLimitedConnection: true, signal: AbortSignal.timeout(10000) })
const q = pushable(); stream.sink(lp.encode(q)).catch(() => {})
q.push(envelope); if (args.fin) q.end()
emit({ event: 'sent', carol: L.peerIdText(carolIK), message_id: L.hex(messageId), fin: args.fin })
const got = []
const reader = (async () => {
  try {
    for await (const f of lp.decode(stream.source)) {
      try { const o = L.openSessionReply(sess, f.subarray()); got.push({ inner: o.plaintext[0], acks_ours: L.hex(o.plaintext.subarray(3, 19)) === L.hex(messageId) }) } catch (e) { got.push({ error: e.message }) }
    }
  } catch (e) { got.push({ stream_error: e.message }) }
  return 'ended'
})()
const r = await Promise.race([reader, new Promise(res => setTimeout(() => res('timeout'), Number(args['wait-ms'])))])
emit({ event: 'result', stream: r, frames: got, acked: got.some(x => x.inner === 2 && x.acks_ours) })
q.end(); clearTimeout(hard); await node.stop(); process.exit(0)
