// vectors.mjs — checks aqua_spec.mjs against tests/data/vectors/e2ee.txt (the spec's test vectors).
// Usage: node vectors.mjs [vectors file]
import { readFileSync } from 'node:fs'
import { ed25519 } from '@noble/curves/ed25519'
import * as L from './aqua_spec.mjs'

const V = {}
for (const line of readFileSync(process.argv[2] ?? new URL('../../../data/vectors/e2ee.txt', import.meta.url).pathname, 'utf8').split('\n')) {
  if (!line || line.startsWith('#')) continue
  const i = line.indexOf(' '); V[line.slice(0, i)] = line.slice(i + 1)
}
let fails = 0
const check = (name, got, want) => {
  const ok = got === want
  if (!ok) fails++
  console.log(`${ok ? 'OK  ' : 'FAIL'} ${name}${ok ? '' : `\n  got  ${got.slice(0, 200)}\n  want ${want.slice(0, 200)}`}`)
}

// HKDF / tags
check('hkdf_rfc5869_case1', L.hex(L.HKDF(L.unhex('000102030405060708090a0b0c'), new Uint8Array(22).fill(0x0b), L.unhex('f0f1f2f3f4f5f6f7f8f9'), 42)), V.hkdf_rfc5869_case1)
check('tag_key11_seq0', L.hex(L.tagOf(new Uint8Array(32).fill(0x11), 0n)), V.tag_key11_seq0)
check('tag_key11_seq1', L.hex(L.tagOf(new Uint8Array(32).fill(0x11), 1n)), V.tag_key11_seq1)

const NOW = 1700000000000
const env = L.deterministicEnv(3, NOW)
const aliceSeed = new Uint8Array(32).fill(0); const bobSeed = new Uint8Array(32).fill(1)
const aliceIK = ed25519.getPublicKey(aliceSeed); const bobIK = ed25519.getPublicKey(bobSeed)
check('alice peer id', L.peerIdText(aliceIK), '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN')
check('bob peer id', L.peerIdText(bobIK), '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5')
const aliceKeys = L.createEngineKeys(env); const bobKeys = L.createEngineKeys(env)
const mk = (ik, keys, addr) => ({
  identityKey: ik, agreementKey: keys.ak, spkId: keys.spkId, spk: keys.spk, addresses: [addr],
  otpks: keys.otpks.map(({ id, key }) => ({ id, key })), capabilities: ['chat', 'agent/v1'],
  createdMs: NOW, expiresMs: NOW + 30 * 86400000
})
const cardAlice = L.signCard(mk(aliceIK, aliceKeys, '/memory/p0'), aliceSeed)
const cardBob = L.signCard(mk(bobIK, bobKeys, '/memory/p1'), bobSeed)
check('card_alice', L.hex(cardAlice), V.card_alice)
check('card_bob', L.hex(cardBob), V.card_bob)
check('card_alice text length', String(L.cardToText(cardAlice).length), '1260')
check('safety_code_alice_bob', L.safetyCode(aliceIK, bobIK), V.safety_code_alice_bob)
const decodedBob = L.verifyCard(L.unhex(V.card_bob), NOW)
check('decode/verify card_bob roundtrip', L.hex(L.cardBody({ ...decodedBob, createdMs: decodedBob.createdMs, expiresMs: decodedBob.expiresMs })), L.hex(decodedBob.body))

// envelope_alice_to_bob_prekey
const me = { identityKey: aliceIK, keys: aliceKeys, cardBytes: cardAlice }
const sess = L.x3dhInitiate(env, me, decodedBob)
check('picked one-time prekey id', String(sess.opkId), '10')
const envBytes = L.sealPrekey(sess, { messageId: L.cat(new Uint8Array(12), L.u32(1)), expiresMs: NOW + 3600000, payload: L.ascii('hello bob') })
check('envelope_alice_to_bob_prekey', L.hex(envBytes), V.envelope_alice_to_bob_prekey)

// Bob's reply, opened on Alice's side
const reply = L.openSessionReply(sess, L.unhex(V.envelope_bob_to_alice_session))
check('opened_2_payload', L.hex(reply.plaintext), V.opened_2_payload)
console.log(fails ? `${fails} FAILED` : 'all vectors reproduced')
process.exit(fails ? 1 : 0)
