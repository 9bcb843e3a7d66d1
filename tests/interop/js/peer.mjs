#!/usr/bin/env node
// peer.mjs — a js-libp2p 2.x peer for aqua interop tests (127.0.0.1 only).
//
//   node peer.mjs listen --relay /ip4/127.0.0.1/tcp/P/p2p/RELAY [--exit-after N] ...
//       reserves a slot on the relay (circuit relay v2), prints the circuit
//       address, and serves /aqua/msg/1.0.0 (echo "ack:"+frame per frame).
//   node peer.mjs dial --addr <multiaddr> (--send-hex HEX | --send-size BYTES) [--count N] [--ping] ...
//       dials (usually a /p2p-circuit address), sends N frames on
//       /aqua/msg/1.0.0, checks the N "ack:"+frame echoes, exits 0.
//
// Framing on /aqua/msg/1.0.0: each message is an unsigned-varint
// length-prefixed byte string; a side closes its write half when done.

import './lib/polyfill.mjs'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import * as lp from 'it-length-prefixed'
import { createLibp2p } from 'libp2p'
import {
  ACK_PREFIX, AQUA_MSG_PROTOCOL, EXIT_OK, EXIT_USAGE, bytesToHex, connInfo, describeBytes, emit, errorMessage, fail, finish,
  hexToBytes, installCrashHandlers, loadPrivateKey, loopbackAddrs, connectionManagerOptions, loopbackOnlyGater, onStdinClose, parseCli,
  parseLoopbackAddr, parseUint, shutdown, startDeadline
} from './lib/common.mjs'

const USAGE = `usage:
  node peer.mjs listen --relay <relay multiaddr with /p2p/ID> [--key-seed-hex HEX64]
                       [--exit-after N] [--max-frame-bytes N] [--reservation-timeout-ms MS]
                       [--ignore-stdin] [--timeout-ms MS]
  node peer.mjs dial --addr <multiaddr> (--send-hex HEX | --send-size BYTES) [--count N] [--ping]
                     [--key-seed-hex HEX64] [--max-frame-bytes N] [--timeout-ms MS]

listen: reserve on --relay, print {"event":"reserved",...}, serve ${AQUA_MSG_PROTOCOL}
        (each frame is printed and echoed as "ack:"+frame). Runs until stdin
        closes / SIGTERM (exit 0), until N streams have completed with
        --exit-after N (exit 0), or until --timeout-ms (exit 2; 0 = never).
dial:   dial --addr (a .../p2p/RELAY/p2p-circuit/p2p/TARGET address, or a direct
        one), open ${AQUA_MSG_PROTOCOL}, send --count frames (default 1) with the
        --send-hex payload (or --send-size bytes of the pattern i%251),
        check the echoes, exit 0. --ping also runs
        /ipfs/ping/1.0.0 over the same connection afterwards.
--timeout-ms defaults to 30000.`

installCrashHandlers()

const [mode, ...rest] = process.argv.slice(2)
if (mode === '--help' || mode === '-h') {
  process.stdout.write(USAGE + '\n')
  process.exit(EXIT_OK)
}
if (mode !== 'listen' && mode !== 'dial') {
  process.stderr.write(USAGE + '\n')
  fail(`first argument must be "listen" or "dial", got ${mode ?? '(none)'}`, { code: 'USAGE', exitCode: EXIT_USAGE })
}

const args = parseCli(rest, {
  relay: { type: 'string' },
  addr: { type: 'string' },
  'send-hex': { type: 'string' },
  'send-size': { type: 'string' },
  count: { type: 'string', default: '1' },
  ping: { type: 'boolean', default: false },
  'exit-after': { type: 'string', default: '0' },
  'key-seed-hex': { type: 'string' },
  'max-frame-bytes': { type: 'string', default: String(4 * 1024 * 1024) },
  'reservation-timeout-ms': { type: 'string', default: '10000' },
  'ignore-stdin': { type: 'boolean', default: false }
}, USAGE)
if (args.positionals.length > 0) {
  fail(`unexpected arguments: ${args.positionals.join(' ')}`, { code: 'USAGE', exitCode: EXIT_USAGE })
}
const maxDataLength = parseUint(args.values['max-frame-bytes'], '--max-frame-bytes', { min: 1 })

let phase = 'starting'
const deadline = startDeadline(args.timeoutMs, () => `phase: ${phase}`)

function concat (a, b) {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

function equalBytes (a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

async function makeNode ({ listen }) {
  const privateKey = await loadPrivateKey(args.values['key-seed-hex'])
  return createLibp2p({
    privateKey,
    addresses: { listen },
    transports: [
      tcp(),
      circuitRelayTransport({
        reservationCompletionTimeout: parseUint(args.values['reservation-timeout-ms'], '--reservation-timeout-ms', { min: 1 })
      })
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: loopbackOnlyGater(),
    connectionManager: connectionManagerOptions(),
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping()
    }
  })
}

// ---------------------------------------------------------------- listen ---

async function waitForClose (connection, ms) {
  const until = Date.now() + ms
  while (connection.status === 'open' && Date.now() < until) {
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function runListen () {
  if (args.values.relay == null) fail('listen needs --relay <multiaddr>', { code: 'USAGE', exitCode: EXIT_USAGE })
  const relayAddr = parseLoopbackAddr(args.values.relay, '--relay')
  const relayPeer = relayAddr.getPeerId()
  if (relayPeer == null) fail('--relay must end with /p2p/<relay peer id>', { code: 'USAGE', exitCode: EXIT_USAGE })
  const exitAfter = parseUint(args.values['exit-after'], '--exit-after')
  const circuitListen = relayAddr.encapsulate('/p2p-circuit').toString()

  phase = `reserving on ${relayAddr.toString()}`
  let node
  try {
    // libp2p.start() listens on <relay>/p2p-circuit, which dials the relay and
    // makes the reservation; start() rejects if that fails.
    node = await makeNode({ listen: [circuitListen] })
  } catch (err) {
    fail(`reservation on relay failed: ${errorMessage(err)}`, { code: 'RESERVATION_FAILED', extra: { relay: relayAddr.toString() } })
  }

  let streamsDone = 0
  let nextStreamId = 0
  await node.handle(AQUA_MSG_PROTOCOL, ({ stream, connection }) => {
    const sid = nextStreamId++
    const from = connection.remotePeer.toString()
    emit({ event: 'stream-open', stream: sid, protocol: AQUA_MSG_PROTOCOL, ...connInfo(connection) })
    let frames = 0
    const echo = async function * (source) {
      for await (const frame of source) {
        const data = frame.subarray()
        emit({ event: 'message', stream: sid, index: frames, from, ...describeBytes(data) })
        frames++
        yield concat(ACK_PREFIX, data)
      }
    }
    // Echo as frames arrive; the sink closes our write side once the remote
    // has closed its write side (source ended) and all echoes are flushed.
    stream.sink(lp.encode(echo(lp.decode(stream.source, { maxDataLength }))))
      .then(() => {
        emit({ event: 'stream-closed', stream: sid, from, frames })
        streamsDone++
        if (exitAfter > 0 && streamsDone >= exitAfter) {
          if (deadline != null) clearTimeout(deadline)
          // Stopping right away would close our connection to the relay while
          // the last echo frames may still be in flight through it (the relay
          // then ends the dialer's stream early). Let the dialer close the
          // connection first (bounded grace period).
          void waitForClose(connection, 3000)
            .then(() => shutdown(node, EXIT_OK, `handled ${streamsDone} stream(s)`))
        }
      }, (err) => {
        stream.abort(err)
        fail(`stream ${sid} from ${from} failed: ${errorMessage(err)}`, { code: 'STREAM_FAILED' })
      })
  }, { runOnLimitedConnection: true })

  node.addEventListener('connection:open', (evt) => emit({ event: 'connection-open', ...connInfo(evt.detail) }))
  node.addEventListener('connection:close', (evt) => {
    emit({ event: 'connection-close', peer: evt.detail.remotePeer.toString(), remote_addr: evt.detail.remoteAddr.toString() })
  })

  // The circuit address appears in getMultiaddrs() once the reservation is in
  // place (normally already when start() resolves).
  let circuit = []
  for (let i = 0; i < 200; i++) {
    circuit = loopbackAddrs(node).filter(a => a.includes('/p2p-circuit'))
    if (circuit.length > 0) break
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  if (circuit.length === 0) fail('reservation made but no circuit address appeared', { code: 'NO_CIRCUIT_ADDR' })
  const preferred = circuit.find(a => a.startsWith(circuitListen + '/')) ?? circuit[0]
  phase = 'serving'
  emit({
    event: 'reserved',
    peer: node.peerId.toString(),
    relay: relayPeer,
    relay_addr: relayAddr.toString(),
    addr: preferred,
    addrs: circuit,
    protocols: node.getProtocols()
  })

  // Report later changes of our circuit addresses (e.g. the relay dropped the
  // reservation or the connection to it closed, or a refresh changed them).
  let lastCircuit = JSON.stringify(circuit)
  // (polled: js-libp2p 2.x does not reliably fire self:peer:update for this)
  setInterval(() => {
    const now = loopbackAddrs(node).filter(a => a.includes('/p2p-circuit'))
    const key = JSON.stringify(now)
    if (key === lastCircuit) return
    lastCircuit = key
    emit({ event: now.length === 0 ? 'reservation-lost' : 'addresses-changed', addrs: now })
  }, 200)

  const stop = (reason) => {
    if (deadline != null) clearTimeout(deadline)
    void shutdown(node, EXIT_OK, reason)
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  if (!args.values['ignore-stdin']) onStdinClose(() => stop('stdin closed'))
}

// ------------------------------------------------------------------ dial ---

async function runDial () {
  if (args.values.addr == null) fail('dial needs --addr <multiaddr>', { code: 'USAGE', exitCode: EXIT_USAGE })
  if ((args.values['send-hex'] == null) === (args.values['send-size'] == null)) {
    fail('dial needs exactly one of --send-hex <hex> or --send-size <bytes>', { code: 'USAGE', exitCode: EXIT_USAGE })
  }
  const target = parseLoopbackAddr(args.values.addr, '--addr')
  let payload
  if (args.values['send-hex'] != null) {
    payload = hexToBytes(args.values['send-hex'], '--send-hex')
  } else {
    // deterministic pattern: byte i = i mod 251
    payload = new Uint8Array(parseUint(args.values['send-size'], '--send-size'))
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251
  }
  if (payload.length > maxDataLength) {
    fail(`payload of ${payload.length} bytes exceeds --max-frame-bytes ${maxDataLength}`, { code: 'USAGE', exitCode: EXIT_USAGE })
  }
  const count = parseUint(args.values.count, '--count', { min: 1 })
  const expected = concat(ACK_PREFIX, payload)

  let node
  try {
    node = await makeNode({ listen: [] })
  } catch (err) {
    fail(`failed to start node: ${errorMessage(err)}`, { code: 'START_FAILED' })
  }
  emit({ event: 'started', peer: node.peerId.toString() })

  phase = `dialing ${target.toString()}`
  emit({ event: 'dialing', addr: target.toString(), protocol: AQUA_MSG_PROTOCOL })
  let stream, connection
  try {
    // A relayed connection carrying a Limit is "limited" in js-libp2p; opening
    // a stream on it requires runOnLimitedConnection on the dial (and on the
    // remote handler).
    connection = await node.dial(target, { signal: AbortSignal.timeout(Math.max(1000, args.timeoutMs || 30000)) })
    emit({ event: 'connected', ...connInfo(connection) })
    phase = `opening ${AQUA_MSG_PROTOCOL}`
    stream = await connection.newStream(AQUA_MSG_PROTOCOL, { runOnLimitedConnection: true })
  } catch (err) {
    fail(`dial failed: ${errorMessage(err)}`, { code: 'DIAL_FAILED', extra: { addr: target.toString() } })
  }
  emit({ event: 'stream-open', protocol: stream.protocol ?? AQUA_MSG_PROTOCOL, peer: connection.remotePeer.toString() })

  phase = `exchanging ${count} frame(s)`
  const t0 = Date.now()
  const outgoing = async function * () {
    for (let i = 0; i < count; i++) {
      emit({ event: 'sent', index: i, ...describeBytes(payload) })
      yield payload
    }
  }
  let received = 0
  const readEchoes = async () => {
    for await (const frame of lp.decode(stream.source, { maxDataLength: maxDataLength + ACK_PREFIX.length })) {
      const data = frame.subarray()
      const ok = received < count && equalBytes(data, expected)
      emit({ event: 'echo', index: received, ...describeBytes(data), ok })
      received++
      if (!ok) {
        throw new Error(received > count
          ? `got more than ${count} echo frames`
          : `echo ${received - 1} mismatch: expected ${bytesToHex(expected).slice(0, 256)} (${expected.length} bytes), got ${bytesToHex(data).slice(0, 256)} (${data.length} bytes)`)
      }
    }
  }
  try {
    await Promise.all([stream.sink(lp.encode(outgoing())), readEchoes()])
  } catch (err) {
    stream.abort(err)
    fail(`exchange failed: ${errorMessage(err)}`, { code: 'EXCHANGE_FAILED', extra: { received } })
  }
  if (received !== count) {
    fail(`stream ended after ${received} of ${count} echo frames`, { code: 'SHORT_READ', extra: { received } })
  }
  const summary = { event: 'done', peer: connection.remotePeer.toString(), sent: count, received, ms: Date.now() - t0, limited: connection.limits != null }

  if (args.values.ping) {
    phase = 'ping'
    try {
      const rtt = await node.services.ping.ping(connection.remotePeer, { signal: AbortSignal.timeout(10000) })
      emit({ event: 'ping', peer: connection.remotePeer.toString(), rtt_ms: rtt })
    } catch (err) {
      fail(`ping failed: ${errorMessage(err)}`, { code: 'PING_FAILED' })
    }
  }

  emit(summary)
  if (deadline != null) clearTimeout(deadline)
  const t = setTimeout(() => finish(EXIT_OK), 2000)
  try { await node.stop() } catch {}
  clearTimeout(t)
  finish(EXIT_OK)
}

if (mode === 'listen') await runListen()
else await runDial()
