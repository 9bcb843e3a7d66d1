#!/usr/bin/env node
// keyinfo.mjs — print the libp2p identity derived from a 32-byte Ed25519 seed,
// exactly as relay.mjs / peer.mjs derive it from --key-seed-hex. Lets a test
// know a js node's peer ID before starting it, and cross-checks aqua's own
// seed -> public key -> peer ID derivation.
//
//   node keyinfo.mjs --key-seed-hex HEX64
//   {"event":"key","peer":"12D3KooW...","public_key_hex":"<32 bytes>","public_key_protobuf_hex":"0801 1220 ..."}

import './lib/polyfill.mjs'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import {
  EXIT_USAGE, bytesToHex, emit, fail, installCrashHandlers, loadPrivateKey, parseCli, peerIdFromPrivateKey
} from './lib/common.mjs'

installCrashHandlers()
const args = parseCli(process.argv.slice(2), { 'key-seed-hex': { type: 'string' } },
  'usage: node keyinfo.mjs --key-seed-hex HEX64')
if (args.values['key-seed-hex'] == null) fail('--key-seed-hex is required', { code: 'USAGE', exitCode: EXIT_USAGE })
const key = await loadPrivateKey(args.values['key-seed-hex'])
emit({
  event: 'key',
  type: key.type,
  peer: peerIdFromPrivateKey(key).toString(),
  public_key_hex: bytesToHex(key.publicKey.raw),
  public_key_protobuf_hex: bytesToHex(publicKeyToProtobuf(key.publicKey))
})
