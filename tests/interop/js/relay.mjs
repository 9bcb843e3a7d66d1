#!/usr/bin/env node
// relay.mjs — a js-libp2p 2.x circuit relay v2 server on 127.0.0.1 for aqua interop tests.
//
// Prints {"event":"listening","peer":"12D3KooW...","addr":"/ip4/127.0.0.1/tcp/P/p2p/ID","addrs":[...]}
// once up, then one line per reservation / relayed connection, and stays up
// until stdin closes, SIGTERM/SIGINT, or --timeout-ms elapses (0 = forever).

import './lib/polyfill.mjs'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import {
  EXIT_OK, EXIT_USAGE, connInfo, emit, errorMessage, fail, installCrashHandlers, loadPrivateKey,
  loopbackAddrs, connectionManagerOptions, loopbackOnlyGater, onStdinClose, parseCli, parseUint, shutdown, startDeadline
} from './lib/common.mjs'

const USAGE = `usage: node relay.mjs [--host IPV4] [--port N] [--key-seed-hex HEX64] [--limit none|default]
                     [--limit-duration-ms MS] [--limit-data-bytes N]
                     [--max-reservations N] [--ignore-stdin] [--timeout-ms MS]

  --host IPV4            address to listen on (default 127.0.0.1; the NAT test uses
                         a namespace's address). The relay still dials only 127.0.0.1
  --port N               tcp port (default 0 = ephemeral)
  --key-seed-hex HEX64   32-byte Ed25519 seed -> deterministic peer ID
  --limit none           (default) no Limit in reservations / relayed
                         connections are unlimited (applyDefaultLimit: false)
  --limit default        js defaults: 120000 "duration" (ms, see README) and
                         131072 bytes, or the --limit-* values below
  --max-reservations N   default 128
  --ignore-stdin         do not exit when stdin reaches EOF
  --timeout-ms MS        exit with an error after MS ms (default 30000, 0 = never)`

installCrashHandlers()

const args = parseCli(process.argv.slice(2), {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '0' },
  'key-seed-hex': { type: 'string' },
  limit: { type: 'string', default: 'none' },
  'limit-duration-ms': { type: 'string' },
  'limit-data-bytes': { type: 'string' },
  'max-reservations': { type: 'string', default: '128' },
  'ignore-stdin': { type: 'boolean', default: false }
}, USAGE)

if (args.positionals.length > 0) {
  fail(`unexpected arguments: ${args.positionals.join(' ')}`, { code: 'USAGE', exitCode: EXIT_USAGE })
}
const port = parseUint(args.values.port, '--port')
if (port > 65535) fail('--port must be <= 65535', { code: 'USAGE', exitCode: EXIT_USAGE })
if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(args.values.host)) {
  fail(`--host must be an IPv4 address, got ${args.values.host}`, { code: 'USAGE', exitCode: EXIT_USAGE })
}
if (!['none', 'default'].includes(args.values.limit)) {
  fail(`--limit must be none or default, got ${args.values.limit}`, { code: 'USAGE', exitCode: EXIT_USAGE })
}

const reservations = {
  maxReservations: parseUint(args.values['max-reservations'], '--max-reservations', { min: 1 }),
  applyDefaultLimit: args.values.limit === 'default'
}
if (args.values['limit-duration-ms'] != null) {
  reservations.defaultDurationLimit = parseUint(args.values['limit-duration-ms'], '--limit-duration-ms', { min: 1 })
}
if (args.values['limit-data-bytes'] != null) {
  reservations.defaultDataLimit = BigInt(parseUint(args.values['limit-data-bytes'], '--limit-data-bytes', { min: 1 }))
}

const deadline = startDeadline(args.timeoutMs)
let node

try {
  const privateKey = await loadPrivateKey(args.values['key-seed-hex'])
  node = await createLibp2p({
    privateKey,
    addresses: {
      listen: [`/ip4/${args.values.host}/tcp/${port}`]
    },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: loopbackOnlyGater(),
    connectionManager: connectionManagerOptions(),
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping(),
      relay: circuitRelayServer({ reservations })
    }
  })
} catch (err) {
  fail(`failed to start relay: ${errorMessage(err)}`, { code: 'START_FAILED' })
}

node.addEventListener('connection:open', (evt) => {
  emit({ event: 'connection-open', ...connInfo(evt.detail) })
})
node.addEventListener('connection:close', (evt) => {
  emit({ event: 'connection-close', peer: evt.detail.remotePeer.toString(), remote_addr: evt.detail.remoteAddr.toString() })
})
// The 2.x server declares but never dispatches 'relay:reservation', so poll
// its reservation map and report new / removed reservations.
const known = new Map()
setInterval(() => {
  const current = node.services.relay.reservations
  for (const [peer, r] of current.entries()) {
    const key = peer.toString()
    const expire = r.expiry instanceof Date ? r.expiry.toISOString() : null
    if (known.get(key) === expire) continue
    known.set(key, expire)
    emit({ event: 'reservation', peer: key, addr: r.addr?.toString() ?? null, expire, limit: r.limit ?? null })
  }
  for (const key of [...known.keys()]) {
    if (![...current.keys()].some(p => p.toString() === key)) {
      known.delete(key)
      emit({ event: 'reservation-removed', peer: key })
    }
  }
}, 100)

const addrs = args.values.host === '127.0.0.1'
  ? loopbackAddrs(node)
  : node.getMultiaddrs().map(ma => ma.toString()).filter(s => s.startsWith(`/ip4/${args.values.host}/`))
if (addrs.length === 0) {
  fail(`relay has no ${args.values.host} listen address`, { code: 'NO_ADDR' })
}
emit({
  event: 'listening',
  role: 'relay',
  peer: node.peerId.toString(),
  addr: addrs[0],
  addrs,
  protocols: node.getProtocols(),
  limit: args.values.limit === 'default'
    ? { duration: reservations.defaultDurationLimit ?? 120000, data: String(reservations.defaultDataLimit ?? 131072n) }
    : null
})

const stop = (reason) => {
  if (deadline != null) clearTimeout(deadline)
  void shutdown(node, EXIT_OK, reason)
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
if (!args.values['ignore-stdin']) onStdinClose(() => stop('stdin closed'))
