#!/usr/bin/env node
// carol_live.mjs — an independent aqua peer for the LIVE path (tests/interop/spec_client_test.py), written from docs/protocol/*.md:
//   reserves on an aqua relay (circuit relay v2, js-libp2p client), publishes a card with her circuit address,
//   accepts /aqua/msg/1.0.0 streams (aqua-msg.md), opens bob's prekey envelope as X3DH responder (sessions.md),
//   answers with an ack (delivery.md 0x02) on the same stream, and on command sends bob a message live.
//
//   node carol_live.mjs --relay /ip4/127.0.0.1/tcp/P/p2p/RELAY --out DIR [--timeout-s 150]
// stdin commands (one per line):
//   send TEXT        send bob a message on the open /aqua/msg/1.0.0 stream bob opened (if still writable), else dial
//   dial-send TEXT   send bob a message on a NEW connection: dial bob's circuit address from his card
//   quit
// stdout: one JSON object per line ({"event": ...}); log on stderr.
import '../lib/polyfill.mjs'
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { createInterface } from 'node:readline'
import { ed25519 } from '@noble/curves/ed25519'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { pushable } from 'it-pushable'
import * as lp from 'it-length-prefixed'
import * as L from './aqua_spec.mjs'
import * as R from './ratchet.mjs'
import { loopbackRelayNode } from './loopback_node.mjs'

const PROTO = '/aqua/msg/1.0.0'
const { values: args } = parseArgs({ options: { relay: { type: 'string' }, out: { type: 'string' }, 'timeout-s': { type: 'string', default: '150' } } })
const log = (...a) => console.error('[carol]', new Date().toISOString().slice(11, 23), ...a)
const emit = (o) => console.log(JSON.stringify(o))
const hard = setTimeout(() => { emit({ event: 'error', error: 'global timeout' }); process.exit(3) }, Number(args['timeout-s']) * 1000)

const env = L.osEnv
const seed = env.random(32)
const carolIK = ed25519.getPublicKey(seed)
const keys = L.createEngineKeys(env)
const carolPeer = L.peerIdText(carolIK)
const me = { identityKey: carolIK, keys }
let sess = null // the session with bob (carol = responder)
const sessionsByEk = new Map()
const received = [] // message IDs of bob's messages
const outstanding = new Map() // our message ids -> text, until bob acks
let liveQ = null // pushable of the stream bob opened (our write half)
let liveOpen = false
let inConn = null

const privateKey = await generateKeyPairFromSeed('Ed25519', seed)
const node = await loopbackRelayNode(privateKey, args.relay)
log('libp2p peer', node.peerId.toString(), node.peerId.toString() === carolPeer ? '(= aqua peer id)' : 'MISMATCH')

// ---------------------------------------------------------------- incoming frames
function handleFrame (frame, via) {
  let e
  try { e = R.decodeEnvelope(frame) } catch (err) { emit({ event: 'frame-error', via, error: err.message, bytes: frame.length }); return }
  const rec = { event: 'envelope', via, kind: e.kind, bytes: frame.length, message_id: L.hex(e.messageId) }
  try {
    if (L.hex(e.recipient) !== L.hex(L.peerIdBytes(carolIK))) throw new Error('wrong_recipient')
    if (BigInt(Date.now()) >= e.expiresMs) throw new Error('message_expired')
    let o
    if (sess) {
      try { o = R.openIn(env, sess, e) } catch (err) {
        if (e.kind === 1 && !sessionsByEk.has(L.hex(e.prekey.ek))) { o = null } else throw err
      }
    }
    if (!o) {
      if (e.kind !== 1) throw new Error('unknown_session')
      const s = R.x3dhRespond(env, me, e, Date.now())
      o = R.openIn(env, s, e) // only now is the session stored
      sess = s; sessionsByEk.set(L.hex(e.prekey.ek), s)
      rec.new_session = true
      rec.bob_card = { peer: L.peerIdText(s.peerCard.identityKey), addresses: s.peerCard.addresses }
    }
    const inner = R.parseInner(o.plaintext)
    Object.assign(rec, { S: o.S.toString(), header: sess.lastHeader, inner })
    emit(rec)
    if (inner.type === 'message') {
      const dup = received.includes(o.messageId)
      if (!dup) received.push(o.messageId)
      sendEnvelope(R.ackFrame([o.messageId]), 'ack', [o.messageId])
    } else {
      for (const id of inner.ids) if (outstanding.has(id)) { emit({ event: 'acked', message_id: id, text: outstanding.get(id) }); outstanding.delete(id) }
    }
  } catch (err) {
    rec.error = err.message; emit(rec)
  }
}

let outConn = null; let outQ = null
async function dialBob () {
  const addrs = sess.peerCard.addresses.filter(a => a.includes('/p2p-circuit'))
  if (addrs.length === 0) throw new Error('bob card lists no circuit address: ' + JSON.stringify(sess.peerCard.addresses))
  log('dialling bob at', addrs[0])
  outConn = await node.dial(multiaddr(addrs[0]), { signal: AbortSignal.timeout(15000) })
  const stream = await outConn.newStream(PROTO, { runOnLimitedConnection: true, signal: AbortSignal.timeout(10000) })
  emit({ event: 'dialled', addr: addrs[0], limited: outConn.limits != null })
  outQ = pushable()
  stream.sink(lp.encode(outQ)).catch(err => log('out sink', err.message))
  ;(async () => {
    try { for await (const f of lp.decode(stream.source)) handleFrame(f.subarray(), 'dialled-stream') } catch (err) { log('out source', err.message) }
    emit({ event: 'dialled-stream-ended' })
  })()
  return outQ
}

async function sendEnvelope (payload, what, ids, { forceDial = false } = {}) {
  const messageId = env.random(16)
  const { envelope, S } = R.sealSession(sess, { messageId, expiresMs: Date.now() + 3600000, payload })
  let via
  if (!forceDial && liveOpen && liveQ) { liveQ.push(envelope); via = 'incoming-stream' } else {
    const q = outQ ?? await dialBob(); q.push(envelope); via = 'dialled-stream'
  }
  emit({ event: 'sent', what, via, S: S.toString(), message_id: L.hex(messageId), acks: ids ?? undefined, bytes: envelope.length })
  return L.hex(messageId)
}

await node.handle(PROTO, ({ stream, connection }) => {
  emit({ event: 'stream-open', from: connection.remotePeer.toString(), remote_addr: connection.remoteAddr.toString(), limited: connection.limits != null })
  const q = pushable()
  liveQ = q; liveOpen = true; inConn = connection
  stream.sink(lp.encode(q)).then(() => log('incoming stream: our write half closed'), err => log('incoming sink error', err.message))
  ;(async () => {
    try { for await (const f of lp.decode(stream.source, { maxDataLength: 4 * 1024 * 1024 })) handleFrame(f.subarray(), 'incoming-stream') } catch (err) { log('incoming source error', err.message) }
    emit({ event: 'incoming-stream-remote-closed' })
    // aqua-msg.md: the other side still may go on writing after a FIN; we keep our half open until told
  })()
}, { runOnLimitedConnection: true })
node.addEventListener('connection:close', (evt) => { emit({ event: 'connection-close', peer: evt.detail.remotePeer.toString(), remote_addr: evt.detail.remoteAddr.toString() }); if (liveQ && evt.detail.remoteAddr.toString().includes('p2p-circuit')) { liveOpen = false } })

// ---------------------------------------------------------------- reservation + card
let circuit = []
for (let i = 0; i < 400 && circuit.length === 0; i++) {
  circuit = node.getMultiaddrs().map(String).filter(a => a.includes('/p2p-circuit') && a.startsWith('/ip4/127.0.0.1/'))
  if (circuit.length === 0) await new Promise(r => setTimeout(r, 25))
}
if (circuit.length === 0) { emit({ event: 'error', error: 'no reservation / circuit address' }); process.exit(1) }
const myAddr = `${args.relay}/p2p-circuit/p2p/${carolPeer}`
log('js-libp2p circuit addrs', circuit, 'card will list', myAddr)
const now = Date.now()
const card = L.signCard({
  identityKey: carolIK, agreementKey: keys.ak, spkId: keys.spkId, spk: keys.spk, addresses: [myAddr],
  otpks: keys.otpks.map(({ id, key }) => ({ id, key })), capabilities: ['chat'], createdMs: now, expiresMs: now + 30 * 86400000
}, seed)
me.cardBytes = card
writeFileSync(`${args.out}/carol.card`, L.cardToText(card) + '\n')
emit({ event: 'reserved', peer: carolPeer, addr: myAddr, js_addrs: circuit, card_file: `${args.out}/carol.card` })

// ---------------------------------------------------------------- commands
const rl = createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  const [cmd, ...rest] = line.split(' '); const text = rest.join(' ')
  try {
    if (cmd === 'dial-send-fin') {
      // dial bob, send one message, close our write half at once (aqua-msg.md "Closing": the other side still
      // delivers everything before it and may go on writing) and keep reading for bob's ack
      if (!sess) throw new Error('no session with bob yet')
      const q = await dialBob()
      const messageId = env.random(16)
      const { envelope, S } = R.sealSession(sess, { messageId, expiresMs: Date.now() + 3600000, payload: R.msgFrame(text) })
      q.push(envelope); q.end(); outQ = null; outstanding.set(L.hex(messageId), text)
      emit({ event: 'sent', what: 'message', via: 'dialled-stream-then-FIN', S: S.toString(), message_id: L.hex(messageId) })
    } else if (cmd === 'send' || cmd === 'dial-send') {
      if (!sess) throw new Error('no session with bob yet')
      const id = await sendEnvelope(R.msgFrame(text), 'message', null, { forceDial: cmd === 'dial-send' })
      outstanding.set(id, text)
    } else if (cmd === 'conn-send') {
      // a NEW /aqua/msg/1.0.0 stream opened by carol (the listener) on the relayed connection bob dialled
      if (!sess || !inConn) throw new Error('no session / incoming connection')
      const stream = await inConn.newStream(PROTO, { runOnLimitedConnection: true, signal: AbortSignal.timeout(10000) })
      emit({ event: 'opened-stream-on-incoming-connection' })
      const q = pushable(); stream.sink(lp.encode(q)).catch(err => log('conn-send sink', err.message))
      ;(async () => { try { for await (const f of lp.decode(stream.source)) handleFrame(f.subarray(), 'carol-opened-stream') } catch (err) { log('conn-send source', err.message) } emit({ event: 'carol-opened-stream-ended' }) })()
      const messageId = env.random(16)
      const { envelope, S } = R.sealSession(sess, { messageId, expiresMs: Date.now() + 3600000, payload: R.msgFrame(text) })
      q.push(envelope); outstanding.set(L.hex(messageId), text)
      emit({ event: 'sent', what: 'message', via: 'carol-opened-stream', S: S.toString(), message_id: L.hex(messageId) })
    } else if (cmd === 'close-write') {
      liveQ?.end(); liveOpen = false; emit({ event: 'closed-write-half' })
    } else if (cmd === 'quit') {
      clearTimeout(hard); liveQ?.end(); outQ?.end(); await node.stop(); emit({ event: 'stopped' }); process.exit(0)
    }
  } catch (err) { emit({ event: 'error', cmd, error: err.message }) }
})
rl.on('close', async () => { clearTimeout(hard); try { await node.stop() } catch {} ; process.exit(0) })
