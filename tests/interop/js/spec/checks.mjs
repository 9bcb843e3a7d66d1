#!/usr/bin/env node
// checks.mjs — black-box checks of bob's zmq transport from a raw ZMTP/Noise peer (tests/interop/spec_client_test.py).
// Each prints one JSON line; "pass" = bob behaves as docs/protocol/noise.md and docs/transports.md say.
//   node checks.mjs --port P --card BOB_CARD --aqua AQUA --dir BOBDIR [--only a,b,...]
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { ed25519 } from '@noble/curves/ed25519'
import * as L from './aqua_spec.mjs'
import { dialSecure, KIND } from './link.mjs'
import { Dealer } from './zmtp.mjs'
import { Handshake, makePayload } from './noise.mjs'

const { values: args } = parseArgs({ options: { port: { type: 'string' }, card: { type: 'string' }, aqua: { type: 'string' }, dir: { type: 'string' }, only: { type: 'string' } } })
const PORT = Number(args.port)
const log = (...a) => console.error('[checks]', ...a)
const hard = setTimeout(() => { log('global timeout'); process.exit(3) }, 240000)
const env = L.osEnv
const bob = L.verifyCard(L.cardFromText(readFileSync(args.card, 'utf8')), env.now())
const bobPeer = L.peerIdText(bob.identityKey)
const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))
function status () {
  try { return JSON.parse(execFileSync(args.aqua, ['--dir', args.dir, 'status', '--json'], { timeout: 10000 }).toString()) } catch (e) { return { running: false, error: e.message } }
}
function inboxSenders () {
  const j = JSON.parse(execFileSync(args.aqua, ['--dir', args.dir, 'inbox', 'list', '--json'], { timeout: 10000 }).toString())
  return j.messages
}
function newIdentity () {
  const seed = env.random(32); const ik = ed25519.getPublicKey(seed); const keys = L.createEngineKeys(env)
  const now = env.now()
  const card = L.signCard({ identityKey: ik, agreementKey: keys.ak, spkId: 1, spk: keys.spk, addresses: [], otpks: [], capabilities: [], createdMs: now, expiresMs: now + 86400000 }, seed)
  return { seed, ik, keys, card, peer: L.peerIdText(ik) }
}
function sealFor (who, text) {
  const sess = L.x3dhInitiate(env, { identityKey: who.ik, keys: who.keys, cardBytes: who.card }, bob)
  const messageId = env.random(16)
  const envelope = L.sealPrekey(sess, { messageId, expiresMs: env.now() + 3600000, payload: L.cat(Uint8Array.of(1), L.ascii(text)) })
  return { sess, messageId: L.hex(messageId), envelope }
}
async function waitAck (link, sealed, ms = 8000) {
  const until = Date.now() + ms
  while (Date.now() < until) {
    const r = await link.recvFrame(until - Date.now())
    if (r.frame) {
      try { const o = L.openSessionReply(sealed.sess, r.frame); if (o.plaintext[0] === 2) return { acked: L.hex(o.plaintext.subarray(3, 19)) === sealed.messageId } } catch (e) { return { unopened: e.message } }
    } else if (!r.timeout) return r
  }
  return { timeout: true }
}
const results = []
function record (name, expect, got, pass) {
  const st = status()
  const r = { check: name, expect, got, pass: pass && st.running === true, bob_running: st.running === true, bob_connections: st.connections, frames_rejected: st.frames_rejected }
  results.push(r); console.log(JSON.stringify(r))
}

const cases = {
  // (a) we dial expecting another peer ID than bob proves: we must refuse before message 3
  async wrong_recipient () {
    const other = newIdentity()
    try { await dialSecure({ port: PORT, expectedPeer: other.peer, identitySeed: newIdentity().seed }); record('wrong_recipient', 'our dialler refuses (wrong_recipient) before message 3', 'handshake completed', false) } catch (e) { record('wrong_recipient', 'our dialler refuses (wrong_recipient) before message 3', e.code + ': ' + e.message, e.code === 'wrong_recipient') }
  },
  // (b) message 3 claims dave's identity_key, signed with carol's key (the key proves carol, the payload claims dave)
  async claim_other_identity () {
    const carol = newIdentity(); const dave = newIdentity()
    const t0 = Date.now()
    let link
    try { link = await dialSecure({ port: PORT, expectedPeer: bobPeer, identitySeed: carol.seed, payloadOverride: (s) => makePayload(carol.seed, s, { identityKeyOverride: dave.ik }) }) } catch (e) { record('claim_other_identity', 'refused', 'dial error ' + e.message, false); return }
    const s = sealFor(dave, 'claims to be dave')
    await link.sendFrame(s.envelope).catch(() => {})
    const r = await waitAck(link, s, 4000)
    const closed = await link.z.waitClosed(2000)
    record('claim_other_identity', 'handshake refused (bad_signature), TCP connection ended at once, nothing acked',
      { after_data: r, tcp_closed: closed, ms: Date.now() - t0 }, !r.acked && closed)
  },
  // (b2) message 3 carries dave's genuine signature, but over a static key that is not the one in this handshake
  async replayed_signature () {
    const carol = newIdentity(); const dave = newIdentity()
    const fakeStatic = L.x25519Pub(env.random(32))
    let link
    try { link = await dialSecure({ port: PORT, expectedPeer: bobPeer, identitySeed: carol.seed, payloadOverride: () => makePayload(dave.seed, fakeStatic) }) } catch (e) { record('replayed_signature', 'refused', 'dial error ' + e.message, false); return }
    const s = sealFor(dave, 'replayed sig')
    await link.sendFrame(s.envelope).catch(() => {})
    const r = await waitAck(link, s, 4000); const closed = await link.z.waitClosed(2000)
    record('replayed_signature', 'handshake refused (bad_signature), TCP connection ended at once', { after_data: r, tcp_closed: closed }, !r.acked && closed)
  },
  // (c) a garbage data message after a good handshake, then a well-formed frame on the same connection
  async garbage_after_handshake () {
    const carol = newIdentity()
    const link = await dialSecure({ port: PORT, expectedPeer: bobPeer, identitySeed: carol.seed })
    const t0 = Date.now()
    await link.z.send([Uint8Array.of(KIND.data), env.random(100)])
    const s = sealFor(carol, 'after garbage')
    await sleep(300)
    await link.sendFrame(s.envelope).catch(() => {}) // sealed with counter 0: the garbage did not advance ours
    const r = await waitAck(link, s, 4000)
    const closed = await link.z.waitClosed(1000)
    record('garbage_after_handshake', 'link ends (decrypt_failed): session forgotten, later data answered with reset (0x03) or TCP ended; nothing acked',
      { after_valid_frame: r, tcp_closed: closed, closed_after_ms: closed ? Date.now() - t0 : null }, !r.acked)
  },
  // (c2) unknown kind byte after the handshake
  async unknown_kind () {
    const carol = newIdentity()
    const link = await dialSecure({ port: PORT, expectedPeer: bobPeer, identitySeed: carol.seed })
    const t0 = Date.now()
    await link.z.send([Uint8Array.of(0x07), L.ascii('hello')])
    const s = sealFor(carol, 'after unknown kind')
    await sleep(300); await link.sendFrame(s.envelope).catch(() => {})
    const r = await waitAck(link, s, 4000)
    record('unknown_kind', 'a listener ignores a message of an unexpected kind (noise.md): the link goes on, the next frame is acked',
      { after_valid_frame: r, ms: Date.now() - t0 }, r.acked === true)
  },
  // (c3) garbage before any handshake, then a normal handshake on the same TCP connection
  async garbage_before_handshake () {
    const z = new Dealer({ port: PORT }); await z.connect()
    await z.send([Uint8Array.of(KIND.data), env.random(64)])
    await z.send([env.random(3)])
    const reply = await z.recv(1500)
    const carol = newIdentity()
    const hs = new Handshake(true, { identitySeed: carol.seed, rng: env.random, expectedPeer: bobPeer })
    await z.send([Uint8Array.of(1), hs.writeMessage1()])
    const m2 = await z.recv(4000)
    let ok = false
    if (m2 && m2[0][0] === 1) { hs.readMessage2(m2[1]); await z.send([Uint8Array.of(1), hs.writeMessage3()]); ok = true }
    let acked = null
    if (ok) {
      const { Link } = await import('./link.mjs'); const link = new Link(z, hs.split(), hs.remote)
      const s = sealFor(carol, 'after pre-handshake garbage'); await link.sendFrame(s.envelope); acked = await waitAck(link, s, 6000)
    }
    z.close()
    record('garbage_before_handshake', 'data before a handshake is answered with a reset (noise.md); the connection still works',
      { reply_to_garbage: reply ? reply.map(p => L.hex(p)) : null, handshake_after: ok, ack: acked }, acked?.acked === true)
  },
  // (d1) one ZMTP part over ZMQ_MAXMSGSIZE (65536 bytes)
  async part_over_65535 () {
    const carol = newIdentity()
    const link = await dialSecure({ port: PORT, expectedPeer: bobPeer, identitySeed: carol.seed })
    const t0 = Date.now()
    await link.z.send([Uint8Array.of(KIND.data), env.random(65536)])
    const closed = await link.z.waitClosed(5000)
    record('part_over_65535', 'ZeroMQ drops the TCP connection (ZMQ_MAXMSGSIZE 65535)', { tcp_closed: closed, ms: Date.now() - t0 }, closed)
  },
  // (d2) a data message with more parts than max_frame_bytes needs (4194304/65519+1 = 65): 66 small parts
  async too_many_parts () {
    const carol = newIdentity()
    const link = await dialSecure({ port: PORT, expectedPeer: bobPeer, identitySeed: carol.seed })
    const t0 = Date.now()
    const parts = [Uint8Array.of(KIND.data)]
    for (let i = 0; i < 66; i++) parts.push(link.cs.send.encrypt(new Uint8Array(0), L.ascii('x')))
    await link.z.send(parts)
    await sleep(500)
    const s = sealFor(carol, 'after 66 parts')
    await link.sendFrame(s.envelope).catch(() => {}) // counter continues after the 66 sealed parts
    const r = await waitAck(link, s, 5000)
    record('too_many_parts', 'transports.md: more parts than max_frame_bytes needs ends the link at either end (frame_too_large): the next frame is not taken',
      { after_valid_frame: r, ms: Date.now() - t0 }, r.acked !== true)
  },
  // (d3) a frame over max_frame_bytes (4 MiB + 1) within the part count (65 parts of <= 65519)
  async frame_over_max_frame_bytes () {
    const carol = newIdentity()
    const link = await dialSecure({ port: PORT, expectedPeer: bobPeer, identitySeed: carol.seed })
    const t0 = Date.now(); const rej0 = status().frames_rejected
    const big = new Uint8Array(4194304 + 1); big[0] = 1; big[1] = 1
    await link.sendFrame(big)
    await sleep(1500); const rej1 = status().frames_rejected
    const s = sealFor(carol, 'after 4 MiB + 1')
    await link.sendFrame(s.envelope).catch(() => {})
    const r = await waitAck(link, s, 5000)
    record('frame_over_max_frame_bytes', 'max_frame_bytes (4194304) is "the largest frame a peer may send": a 4194305-byte frame is not passed to the node (frames_rejected unchanged) and ends the link',
      { passed_to_node_and_rejected_there: rej1 > rej0, after_valid_frame: r }, rej1 === rej0 && r.acked !== true)
  },
  // (e) Noise identity dave, envelope from carol: which peer is the connection bound to, and does the ack come back?
  async noise_identity_differs_from_sender () {
    const dave = newIdentity(); const carol = newIdentity()
    const link = await dialSecure({ port: PORT, expectedPeer: bobPeer, identitySeed: dave.seed })
    const s = sealFor(carol, 'noise as dave, envelope from carol')
    await link.sendFrame(s.envelope)
    const r = await waitAck(link, s, 6000)
    const inbox = inboxSenders().filter(m => m.message_id === s.messageId)
    record('noise_identity_differs_from_sender', 'transports.md: an authenticated connection stays bound to its Noise peer; the envelope is stored as carol\'s, and her ack (no address of hers known) does not go on dave\'s connection',
      { ack: r, inbox_sender: inbox[0]?.sender ?? null, noise_peer: dave.peer, envelope_sender: carol.peer }, inbox[0]?.sender === carol.peer && r.acked !== true)
  },
  // (f) ZMTP socket types other than DEALER: does the ROUTER refuse them after READY?
  async zmtp_variants () {
    const out = {}
    for (const st of ['DEALER', 'REQ', 'ROUTER', 'PUB', 'PAIR']) {
      const z = new Dealer({ port: PORT, socketType: st })
      try { await z.connect(3000); const closed = await z.waitClosed(700); out[st] = closed ? 'closed after READY (cmds ' + z.commands.join(',') + ')' : 'open' } catch (e) { out[st] = e.message }
      z.close()
    }
    record('zmtp_variants', 'informational: ROUTER accepts DEALER/REQ/ROUTER peers (ZMTP socket compatibility)', out, out.DEALER === 'open')
  },
  // (g) message 1 with a payload (33 bytes): bad_frame, TCP ended
  async message1_with_payload () {
    const z = new Dealer({ port: PORT }); await z.connect()
    await z.send([Uint8Array.of(1), env.random(33)])
    const r = await z.recv(1500); const closed = await z.waitClosed(2000)
    record('message1_with_payload', 'bad_frame: handshake fails, TCP connection ended at once', { reply: r ? r.map(p => L.hex(p).slice(0, 16)) : null, tcp_closed: closed }, closed && !r)
  },
  // (h) a second handshake on an established link, same TCP connection (not in the docs)
  async rehandshake_same_tcp () {
    const carol = newIdentity()
    const link = await dialSecure({ port: PORT, expectedPeer: bobPeer, identitySeed: carol.seed })
    const hs = new Handshake(true, { identitySeed: carol.seed, rng: env.random, expectedPeer: bobPeer })
    await link.z.send([Uint8Array.of(1), hs.writeMessage1()])
    const m2 = await link.z.recv(3000)
    let r = null
    if (m2 && m2[0][0] === 1) {
      hs.readMessage2(m2[1]); await link.z.send([Uint8Array.of(1), hs.writeMessage3()])
      const { Link } = await import('./link.mjs'); const l2 = new Link(link.z, hs.split(), hs.remote)
      const s = sealFor(carol, 'after a second handshake on one TCP connection'); await l2.sendFrame(s.envelope); r = await waitAck(l2, s, 6000)
    }
    link.close()
    record('rehandshake_same_tcp', 'noise.md: a new message 1 on an established link replaces the session on the same TCP connection', { message2: !!m2, ack: r }, r?.acked === true)
  },
  // (i) a data message with no chunk (kind byte only), then a good frame
  async data_without_chunks () {
    const carol = newIdentity()
    const link = await dialSecure({ port: PORT, expectedPeer: bobPeer, identitySeed: carol.seed })
    await link.z.send([Uint8Array.of(KIND.data)])
    const s = sealFor(carol, 'after a data message without chunks'); await sleep(200); await link.sendFrame(s.envelope)
    const r = await waitAck(link, s, 5000); link.close()
    record('data_without_chunks', 'noise.md: a listener ignores a data message without Noise parts; the next frame is acked', { ack_after: r }, r.acked === true)
  }
}

const only = args.only ? args.only.split(',') : Object.keys(cases)
for (const name of only) {
  log('---', name)
  try { await cases[name]() } catch (e) { record(name, 'no exception', 'exception: ' + e.stack, false) }
  await sleep(300)
}
clearTimeout(hard)
const allPass = results.every(r => r.pass)
console.log(JSON.stringify({ checks: results.length, pass: allPass }))
process.exit(allPass ? 0 : 1)
