// loopback_node.mjs — the js-libp2p node the spec peers run against an aqua relay on 127.0.0.1: TCP, Noise, yamux,
// the circuit relay v2 client, identify and ping; it dials 127.0.0.1 only and, with `relay`, listens on its circuit
// address there (a reservation).
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'

// Whether a multiaddr stays on 127.0.0.1 (no other IPv4, no IPv6, no DNS).
export const isLoop = (ma) => { for (const [c, v] of ma.stringTuples()) { if (c === 4 && v !== '127.0.0.1') return false; if (c === 41 || (c >= 53 && c <= 56)) return false } return true }

export function loopbackRelayNode (privateKey, relay) {
  return createLibp2p({
    privateKey,
    addresses: { listen: relay ? [`${relay}/p2p-circuit`] : [] },
    transports: [tcp(), circuitRelayTransport({ reservationCompletionTimeout: 10000 })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: async (ma) => !isLoop(ma), filterMultiaddrForPeer: async (_p, ma) => isLoop(ma) },
    connectionManager: { allow: ['/ip4/127.0.0.1/ipcidr/32'], inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 100 },
    services: { identify: identify(), ping: ping() }
  })
}
