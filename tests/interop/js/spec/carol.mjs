#!/usr/bin/env node
// carol.mjs — an independent aqua peer written from docs/protocol/*.md alone (tests/interop/spec_client_test.py):
// a js-libp2p node that talks to an aqua relay's mailbox, with its own cards, X3DH, ratchet and envelopes
// (aqua_spec.mjs). Every mode takes --state FILE (carol's identity and session, kept between runs).
//
//   node carol.mjs send  --state F --card BOB_CARD_FILE [--json BOB_CARD_JSON] --relay /ip4/127.0.0.1/tcp/P/p2p/RELAY --text TEXT
//       a new identity "carol", verifies bob's card, seals a prekey envelope (inner frame 0x01 || text) with
//       carol's signed card (listing her circuit address on the relay, or none with --bare), DEPOSITs it.
//   node carol.mjs fetch --state F --relay ADDR [--wait-ms MS]
//       FETCHes carol's mail, opens each envelope (bob's acks and messages) with the session, ACKs it to the relay.
//   node carol.mjs ack   --state F --relay ADDR [--ids ID,...]
//       a session envelope (kind 2, after a DH ratchet step) acknowledging bob's messages, deposited for him.
//   node carol.mjs resend --state F --relay ADDR: the first envelope again (a retry).
// Output: one JSON line per mode on stdout; the log on stderr.
import '../lib/polyfill.mjs'
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ed25519 } from '@noble/curves/ed25519'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import * as L from './aqua_spec.mjs'

const MAILBOX = '/aqua/mailbox/1.0.0'
let STATE = null  // --state FILE: carol's identity and session between runs
const log = (...a) => console.error('[carol]', ...a)
const [mode, ...rest] = process.argv.slice(2)
const { values: args } = parseArgs({
  args: rest,
  options: {
    card: { type: 'string' }, json: { type: 'string' }, relay: { type: 'string' }, text: { type: 'string' },
    'wait-ms': { type: 'string', default: '8000' }, raw: { type: 'boolean', default: false }, state: { type: 'string' }, ids: { type: 'string' }, bare: { type: 'boolean', default: false }, 'ttl-s': { type: 'string', default: '3600' }
  }
})
if (args.state) STATE = args.state
if (!STATE) { console.error('usage: node carol.mjs send|fetch|resend|ack --state FILE ...'); process.exit(2) }
const hard = setTimeout(() => { log('global timeout'); process.exit(3) }, 60000)

async function node (seed) {
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed)
  return createLibp2p({
    privateKey,
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: async (ma) => !ma.toString().startsWith('/ip4/127.0.0.1/') },
    services: { identify: identify(), ping: ping() }
  })
}

// hex <-> JSON helpers for the saved session
const ser = (o) => JSON.stringify(o, (k, v) => v instanceof Uint8Array ? { hex: L.hex(v) } : typeof v === 'bigint' ? { big: v.toString() } : v, 1)
const des = (s) => JSON.parse(s, (k, v) => v && typeof v === 'object' && 'hex' in v ? L.unhex(v.hex) : v && typeof v === 'object' && 'big' in v ? BigInt(v.big) : v)

async function send () {
  const env = L.osEnv
  const now = env.now()
  // (1) bob's card: text form, strict reading + verify_card
  const bobText = readFileSync(args.card, 'utf8')
  const bob = L.verifyCard(L.cardFromText(bobText), now)
  const bobPeer = L.peerIdText(bob.identityKey)
  log('bob card verified:', bobPeer, 'spk id', bob.spkId, 'otpks', bob.otpks.length, 'addresses', bob.addresses)
  if (args.json) {
    const j = JSON.parse(readFileSync(args.json, 'utf8'))
    const same = j.peer_id === bobPeer && j.identity_key === L.hex(bob.identityKey) && j.agreement_key === L.hex(bob.agreementKey) &&
      j.signed_prekey.id === bob.spkId && j.signed_prekey.key === L.hex(bob.spk) && j.one_time_prekeys.length === bob.otpks.length &&
      j.one_time_prekeys.every((p, i) => p.id === bob.otpks[i].id && p.key === L.hex(bob.otpks[i].key)) &&
      BigInt(j.created_ms) === bob.createdMs && BigInt(j.expires_ms) === bob.expiresMs &&
      JSON.stringify(j.addresses) === JSON.stringify(bob.addresses) && JSON.stringify(j.capabilities) === JSON.stringify(bob.capabilities)
    log('card --json fields agree with the decoded text card:', same, '(json card is a different signing:', j.card !== bobText.trim(), ')')
  }
  // (2) carol: fresh Ed25519 identity + engine keys + signed card
  const seed = env.random(32)
  const carolIK = ed25519.getPublicKey(seed)
  const keys = L.createEngineKeys(env)
  const carolPeer = L.peerIdText(carolIK)
  const relayMa = multiaddr(args.relay)
  const card = L.signCard({
    identityKey: carolIK, agreementKey: keys.ak, spkId: keys.spkId, spk: keys.spk,
    addresses: args.bare ? [] : [`${args.relay}/p2p-circuit/p2p/${carolPeer}`],
    otpks: args.bare ? [] : keys.otpks.map(({ id, key }) => ({ id, key })), capabilities: args.bare ? [] : ['chat'],
    createdMs: now, expiresMs: now + 30 * 86400000
  }, seed)
  L.verifyCard(card, now) // self-check
  log('carol:', carolPeer, 'card', card.length, 'bytes')
  const sess = L.x3dhInitiate(env, { identityKey: carolIK, keys, cardBytes: card }, bob)
  const messageId = env.random(16)
  const expiresMs = now + 86400000
  const payload = args.raw ? L.ascii(args.text) : L.cat(Uint8Array.of(0x01), L.ascii(args.text)) // delivery.md inner frame: message (--raw: without it)
  const envelope = L.sealPrekey(sess, { messageId, expiresMs, payload })
  log('prekey envelope', envelope.length, 'bytes, message id', L.hex(messageId), 'opk id', sess.opkId)
  writeFileSync(STATE, ser({ seed, carolPeer, card: L.cardToText(card), keys, sess, messageId: L.hex(messageId), bobPeer, envelope, bobIK: bob.identityKey }))
  writeFileSync(STATE.replace(/\.json$/, '') + '-card.txt', L.cardToText(card) + '\n')

  // (3) deposit on the relay's mailbox
  const n = await node(seed)
  try {
    log('libp2p peer id', n.peerId.toString(), n.peerId.toString() === carolPeer ? '(= carol)' : '(MISMATCH)')
    const stream = await n.dialProtocol(relayMa, MAILBOX, { signal: AbortSignal.timeout(10000) })
    const msg = L.encodeDeposit(L.peerIdBytes(bob.identityKey), envelope, Number(args['ttl-s']))
    const reply = (async () => {
      for await (const m of lp.decode(stream.source)) return L.decodeMailboxMessage(m.subarray())
      return null
    })()
    await stream.sink(lp.encode([msg])) // writes DEPOSIT, then half-closes (as aqua's client does)
    const st = await Promise.race([reply, new Promise((_, rej) => setTimeout(() => rej(new Error('no STATUS within 10 s')), 10000))])
    if (st == null) throw new Error('stream ended without STATUS')
    log('relay answered type', st.type, 'status', st.status, L.STATUS[st.status] ?? '?', st.text ?? '')
    console.log(JSON.stringify({ event: 'deposited', status: st.status, name: L.STATUS[st.status], text: st.text ?? null, carol: carolPeer, bob: bobPeer, message_id: L.hex(messageId), envelope_bytes: envelope.length }))
    if (st.status !== 100) process.exitCode = 1
  } finally {
    await n.stop()
  }
}

async function resend () {
  const st = des(readFileSync(STATE, 'utf8'))
  const n = await node(st.seed)
  try {
    const stream = await n.dialProtocol(multiaddr(args.relay), MAILBOX, { signal: AbortSignal.timeout(10000) })
    const reply = (async () => { for await (const m of lp.decode(stream.source)) return L.decodeMailboxMessage(m.subarray()); return null })()
    await stream.sink(lp.encode([L.encodeDeposit(L.peerIdBytes(st.bobIK), st.envelope, Number(args['ttl-s']))]))
    const r = await Promise.race([reply, new Promise((_, rej) => setTimeout(() => rej(new Error('no STATUS within 10 s')), 10000))])
    console.log(JSON.stringify({ event: 'redeposited', status: r?.status, name: L.STATUS[r?.status], text: r?.text ?? null }))
  } finally { await n.stop() }
}

async function ack () {
  const st = des(readFileSync(STATE, 'utf8'))
  if (!st.replyDh) throw new Error('no reply from bob fetched yet')
  const ids = (args.ids ? args.ids.split(',') : st.received ?? [])
  if (ids.length === 0) throw new Error('nothing to ack')
  const payload = L.cat(Uint8Array.of(0x02), L.u16(ids.length), ...ids.map(L.unhex)) // delivery.md: ack frame
  const messageId = L.osEnv.random(16)
  const envelope = L.sealSessionAfterReply(L.osEnv, st.sess, st.replyDh, { messageId, expiresMs: Date.now() + 3600000, payload })
  const n = await node(st.seed)
  try {
    const stream = await n.dialProtocol(multiaddr(args.relay), MAILBOX, { signal: AbortSignal.timeout(10000) })
    const reply = (async () => { for await (const m of lp.decode(stream.source)) return L.decodeMailboxMessage(m.subarray()); return null })()
    await stream.sink(lp.encode([L.encodeDeposit(L.peerIdBytes(st.bobIK), envelope, 3600)]))
    const r = await Promise.race([reply, new Promise((_, rej) => setTimeout(() => rej(new Error('no STATUS within 10 s')), 10000))])
    console.log(JSON.stringify({ event: 'ack-deposited', acked: ids, kind: 2, bytes: envelope.length, status: r?.status, name: L.STATUS[r?.status] }))
  } finally { await n.stop() }
}

async function fetch () {
  if (!existsSync(STATE)) throw new Error(`no ${STATE}: run send first`)
  const st = des(readFileSync(STATE, 'utf8'))
  const n = await node(st.seed)
  try {
    const stream = await n.dialProtocol(multiaddr(args.relay), MAILBOX, { signal: AbortSignal.timeout(10000) })
    const out = []
    const { pushable } = await import('it-pushable')
    const q = pushable()
    stream.sink(lp.encode(q)).catch(() => {})
    q.push(L.encodeFetch())
    const until = Date.now() + Number(args['wait-ms'])
    const it = lp.decode(stream.source)[Symbol.asyncIterator]()
    while (Date.now() < until) {
      const r = await Promise.race([it.next(), new Promise(res => setTimeout(() => res({ timeout: true }), until - Date.now()))])
      if (r.timeout || r.done) break
      const m = L.decodeMailboxMessage(r.value.subarray())
      if (m.type !== 3) { log('non-MAIL message', m); break }
      for (const mail of m.mail) {
        const rec = { id: mail.id.toString(), bytes: mail.envelope.length, kind: mail.envelope[1], depositor: mail.depositor ? L.peerIdText(mail.depositor.subarray(6)) : null }
        try {
          const o = L.openSessionReply(st.sess, mail.envelope)
          const pt = o.plaintext
          rec.opened = { S: o.S.toString(), header_n: o.header.n, message_id: o.messageId, inner_type: pt[0] }
          st.replyDh = L.unhex(o.header.dh); if (pt[0] !== 2) (st.received ??= []).push(o.messageId)
          if (pt[0] === 2) {
            const cnt = (pt[1] << 8) | pt[2]
            rec.opened.acked_ids = Array.from({ length: cnt }, (_, i) => L.hex(pt.subarray(3 + 16 * i, 19 + 16 * i)))
            rec.opened.acks_our_message = rec.opened.acked_ids.includes(st.messageId)
          } else { rec.opened.text = Buffer.from(pt.subarray(1)).toString(); rec.opened.plaintext_hex = L.hex(pt) }
        } catch (e) { rec.error = e.message }
        out.push(rec)
        q.push(L.encodeAck([mail.id]))
      }
    }
    q.end()
    writeFileSync(STATE, ser(st))
    console.log(JSON.stringify({ event: 'fetched', mail: out }))
  } finally {
    await n.stop()
  }
}

try {
  if (mode === 'send') await send()
  else if (mode === 'fetch') await fetch()
  else if (mode === 'resend') await resend()
  else if (mode === 'ack') await ack()
  else { console.error('usage: node carol.mjs send|fetch ...'); process.exitCode = 2 }
} catch (e) {
  log('error:', e.stack ?? e)
  process.exitCode = 1
} finally {
  clearTimeout(hard)
}
