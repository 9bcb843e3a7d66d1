// link.mjs — aqua's zmq secure link (noise.md "Framing over message transports"), dialler (DEALER, initiator) side.
import { Dealer } from './zmtp.mjs'
import { Handshake, NoiseError } from './noise.mjs'
import { osEnv, cat, hex } from './aqua_spec.mjs'

export const KIND = { handshake: 0x01, data: 0x02, reset: 0x03 }
const kb = (k) => Uint8Array.of(k)

export async function dialSecure ({ port, expectedPeer, identitySeed, payloadOverride, log = () => {}, timeoutMs = 10000 }) {
  const z = new Dealer({ port, log })
  await z.connect(5000)
  log('ZMTP open: peer greeting', JSON.stringify(z.peerGreeting), 'READY', JSON.stringify(z.peerProps))
  const hs = new Handshake(true, { identitySeed, rng: osEnv.random, expectedPeer, payloadOverride })
  await z.send([kb(KIND.handshake), hs.writeMessage1()])
  const m = await z.recv(timeoutMs)
  if (!m) throw new Error('no Noise message 2 (closed: ' + z.closed + ')')
  if (m.length !== 2 || m[0].length !== 1 || m[0][0] !== KIND.handshake) throw new Error('unexpected message instead of message 2: ' + m.map(p => hex(p).slice(0, 40)).join(' | '))
  log('message 2:', m[1].length, 'bytes')
  let remote
  try { remote = hs.readMessage2(m[1]) } catch (e) { z.close(); throw e } // wrong_recipient: refuse before message 3
  const m3 = hs.writeMessage3()
  await z.send([kb(KIND.handshake), m3])
  const cs = hs.split()
  log('handshake complete; responder proved', remote.peerId, 'handshake hash', hex(cs.hash))
  return new Link(z, cs, remote)
}

export class Link {
  constructor (z, cs, remote) { Object.assign(this, { z, cs, remote }) }
  seal (frameBytes, { maxPart = 65519 } = {}) {
    const parts = [kb(KIND.data)]
    if (frameBytes.length === 0) parts.push(this.cs.send.encrypt(new Uint8Array(0), frameBytes))
    for (let o = 0; o < frameBytes.length; o += maxPart) parts.push(this.cs.send.encrypt(new Uint8Array(0), frameBytes.subarray(o, o + maxPart)))
    return parts
  }
  async sendFrame (frameBytes) { await this.z.send(this.seal(frameBytes)) }
  // next transport frame: { frame } | { reset: true } | { closed: true } | { timeout: true } | { other: parts }
  async recvFrame (timeoutMs = 10000) {
    const m = await this.z.recv(timeoutMs)
    if (!m) return this.z.closed ? { closed: true } : { timeout: true }
    if (m[0].length === 1 && m[0][0] === KIND.reset && m.length === 1) return { reset: true }
    if (m[0].length !== 1 || m[0][0] !== KIND.data || m.length < 2) return { other: m }
    return { frame: cat(...m.slice(1).map(p => this.cs.recv.decrypt(new Uint8Array(0), p))) }
  }
  close () { this.z.close() }
}
export { NoiseError }
