// Shared helpers for the aqua js-libp2p interop harness (js-libp2p 2.x).
//
// Every script prints one JSON object per line on stdout (machine readable),
// exits 0 on success and non-zero with an {"event":"error",...} line on
// failure. Diagnostics from libp2p itself go to stderr (enable with
// DEBUG=libp2p:*).

import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'

export const AQUA_MSG_PROTOCOL = '/aqua/msg/1.0.0'
export const ACK_PREFIX = new TextEncoder().encode('ack:')

// Exit codes (documented in README.md).
export const EXIT_OK = 0
export const EXIT_ERROR = 1
export const EXIT_TIMEOUT = 2
export const EXIT_USAGE = 64

/** Print one JSON line on stdout (synchronous for pipes and files on Linux). */
export function emit (obj) {
  process.stdout.write(JSON.stringify(obj, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n')
}

let exiting = false

/** Print an error line and exit non-zero. */
export function fail (message, { code = 'ERROR', exitCode = EXIT_ERROR, extra = {} } = {}) {
  if (exiting) return
  exiting = true
  emit({ event: 'error', code, error: String(message), ...extra })
  process.exit(exitCode)
}

/** Exit with a given code (used on success paths); idempotent. */
export function finish (exitCode = EXIT_OK) {
  if (exiting) return
  exiting = true
  process.exit(exitCode)
}

export function errorMessage (err) {
  if (err == null) return 'unknown error'
  const name = err.name != null && err.name !== 'Error' ? `${err.name}: ` : ''
  let msg = `${name}${err.message ?? String(err)}`
  if (Array.isArray(err.errors) && err.errors.length > 0) {
    msg += ' [' + err.errors.map(e => errorMessage(e)).join('; ') + ']'
  }
  return msg
}

/** Install handlers so that any unexpected exception becomes a JSON error line. */
export function installCrashHandlers () {
  process.on('uncaughtException', err => fail(errorMessage(err), { code: 'UNCAUGHT' }))
  process.on('unhandledRejection', err => fail(errorMessage(err), { code: 'UNHANDLED_REJECTION' }))
}

/**
 * Parse argv with node:util parseArgs. `options` follows parseArgs' format;
 * --timeout-ms and --help are always accepted.
 */
export function parseCli (argv, options, usage) {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        'timeout-ms': { type: 'string', default: '30000' },
        help: { type: 'boolean', default: false },
        ...options
      },
      allowPositionals: true,
      strict: true
    })
  } catch (err) {
    process.stderr.write(usage + '\n')
    fail(`bad arguments: ${err.message}`, { code: 'USAGE', exitCode: EXIT_USAGE })
  }
  if (parsed.values.help) {
    process.stdout.write(usage + '\n')
    process.exit(EXIT_OK)
  }
  const timeoutMs = Number(parsed.values['timeout-ms'])
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0) {
    fail(`--timeout-ms must be a non-negative integer, got ${parsed.values['timeout-ms']}`, { code: 'USAGE', exitCode: EXIT_USAGE })
  }
  parsed.timeoutMs = timeoutMs
  return parsed
}

/** Start the global deadline; 0 disables it. */
export function startDeadline (timeoutMs, what) {
  if (timeoutMs === 0) return undefined
  return setTimeout(() => {
    fail(`timeout after ${timeoutMs} ms${what != null ? ` (${what()})` : ''}`, { code: 'TIMEOUT', exitCode: EXIT_TIMEOUT })
  }, timeoutMs)
}

export function hexToBytes (hex, what = 'hex') {
  const clean = String(hex).trim().replace(/^0x/i, '')
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    fail(`${what} is not valid hex: ${hex}`, { code: 'USAGE', exitCode: EXIT_USAGE })
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'))
}

export function bytesToHex (bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Frames longer than this are printed without data_hex (sha256 only). */
export const PRINT_MAX_BYTES = 65536

/** {len, sha256, data_hex} description of a frame for JSON lines. */
export function describeBytes (bytes) {
  const out = { len: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }
  if (bytes.length <= PRINT_MAX_BYTES) out.data_hex = bytesToHex(bytes)
  else out.data_hex_omitted = true
  return out
}

export function parseUint (value, what, { min = 0 } = {}) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) {
    fail(`${what} must be an integer >= ${min}, got ${value}`, { code: 'USAGE', exitCode: EXIT_USAGE })
  }
  return n
}

/**
 * Ed25519 private key: deterministic from a 32-byte seed (64 hex chars) when
 * given, random otherwise. The seed is the RFC 8032 private key seed, so the
 * same seed yields the same libp2p peer ID (12D3KooW...) in any implementation.
 */
export async function loadPrivateKey (seedHex) {
  if (seedHex == null || seedHex === '') {
    return generateKeyPair('Ed25519')
  }
  const seed = hexToBytes(seedHex, '--key-seed-hex')
  if (seed.length !== 32) {
    fail(`--key-seed-hex must be 32 bytes (64 hex chars), got ${seed.length} bytes`, { code: 'USAGE', exitCode: EXIT_USAGE })
  }
  return generateKeyPairFromSeed('Ed25519', seed)
}

export { peerIdFromPrivateKey }

/**
 * The harness only ever talks to 127.0.0.1. This gater refuses to dial any
 * multiaddr that names another IP / DNS host (e.g. addresses learnt from a
 * relay reservation or identify), so nothing leaves the loopback interface.
 */
export function loopbackOnlyGater () {
  const isLoopbackOnly = (ma) => {
    for (const [code, value] of ma.stringTuples()) {
      // ip4 = 4, ip6 = 41, dns = 53, dns4 = 54, dns6 = 55, dnsaddr = 56
      if (code === 4 && value !== '127.0.0.1') return false
      if (code === 41 || code === 53 || code === 54 || code === 55 || code === 56) return false
    }
    return true
  }
  return {
    denyDialMultiaddr: async (ma) => !isLoopbackOnly(ma),
    // only keep loopback addresses for peers in the peer store
    filterMultiaddrForPeer: async (_peer, ma) => isLoopbackOnly(ma)
  }
}

/**
 * js-libp2p 2.x rate-limits inbound connections per remote IP (default 5 per
 * second, inboundConnectionThreshold) and caps pending inbound connections
 * (10). In tests every peer is 127.0.0.1, so put loopback on the allow list
 * (which bypasses both checks) and raise the limits anyway.
 */
export function connectionManagerOptions () {
  return {
    allow: ['/ip4/127.0.0.1/ipcidr/32'],
    inboundConnectionThreshold: 1000,
    maxIncomingPendingConnections: 100
  }
}

/** Validate a user-supplied multiaddr: it must start with /ip4/127.0.0.1/tcp/. */
export function parseLoopbackAddr (str, what) {
  let ma
  try {
    ma = multiaddr(str)
  } catch (err) {
    fail(`${what} is not a valid multiaddr: ${str} (${err.message})`, { code: 'USAGE', exitCode: EXIT_USAGE })
  }
  const tuples = ma.stringTuples()
  if (tuples.length < 2 || tuples[0][0] !== 4 || tuples[0][1] !== '127.0.0.1' || tuples[1][0] !== 6) {
    fail(`${what} must start with /ip4/127.0.0.1/tcp/ (this harness only uses loopback): ${str}`, { code: 'USAGE', exitCode: EXIT_USAGE })
  }
  return ma
}

/** Addresses of a node, as strings, restricted to 127.0.0.1. */
export function loopbackAddrs (node) {
  return node.getMultiaddrs().map(ma => ma.toString()).filter(s => s.startsWith('/ip4/127.0.0.1/'))
}

/**
 * Resolve when stdin reaches EOF (the parent closed the pipe / died).
 * Not armed when stdin is a TTY.
 */
export function onStdinClose (cb) {
  if (process.stdin.isTTY) return
  process.stdin.on('data', () => {})
  process.stdin.on('end', cb)
  process.stdin.on('close', cb)
  process.stdin.on('error', cb)
  process.stdin.resume()
}

/** Stop the node (bounded) and exit. */
export async function shutdown (node, exitCode, reason) {
  if (exiting) return
  emit({ event: 'stopping', reason })
  const t = setTimeout(() => finish(exitCode), 3000)
  try {
    await node?.stop()
  } catch {}
  clearTimeout(t)
  emit({ event: 'stopped', reason })
  finish(exitCode)
}

export function connInfo (connection) {
  return {
    peer: connection.remotePeer.toString(),
    remote_addr: connection.remoteAddr.toString(),
    direction: connection.direction,
    limited: connection.limits != null,
    // ConnectionLimits fields are non-enumerable getters in js-libp2p 2.x
    limits: connection.limits != null
      ? { bytes: connection.limits.bytes ?? null, seconds: connection.limits.seconds ?? null }
      : null,
    multiplexer: connection.multiplexer ?? null,
    encryption: connection.encryption ?? null
  }
}
