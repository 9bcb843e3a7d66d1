// zmtp.mjs — a minimal ZMTP 3.x DEALER peer over node:net (RFC 23/ZMTP, 37/ZMTP 3.1; NULL mechanism), no libzmq.
import net from 'node:net'
import { cat, ascii } from './aqua_spec.mjs'

export function greeting ({ minor = 1, mechanism = 'NULL', asServer = 0 } = {}) {
  const g = new Uint8Array(64)
  g[0] = 0xff; g[9] = 0x7f; g[10] = 3; g[11] = minor
  g.set(ascii(mechanism), 12); g[32] = asServer
  return g
}
export function frame (body, { more = false, command = false } = {}) {
  const long = body.length > 255
  const flags = (more ? 1 : 0) | (long ? 2 : 0) | (command ? 4 : 0)
  if (long) { const h = new Uint8Array(9); h[0] = flags; new DataView(h.buffer).setBigUint64(1, BigInt(body.length)); return cat(h, body) }
  return cat(Uint8Array.of(flags, body.length), body)
}
export function command (name, data) { return frame(cat(Uint8Array.of(name.length), ascii(name), data), { command: true }) }
export function readyBody (props) {
  const parts = []
  for (const [k, v] of Object.entries(props)) {
    const val = typeof v === 'string' ? ascii(v) : v
    const l = new Uint8Array(4); new DataView(l.buffer).setUint32(0, val.length)
    parts.push(Uint8Array.of(k.length), ascii(k), l, val)
  }
  return cat(...parts)
}
export function parseProps (b) {
  const out = {}; let o = 0
  while (o < b.length) { const n = b[o++]; const k = Buffer.from(b.subarray(o, o + n)).toString(); o += n; const l = new DataView(b.buffer, b.byteOffset + o).getUint32(0); o += 4; out[k] = Buffer.from(b.subarray(o, o + l)).toString(); o += l }
  return out
}

export class Dealer {
  constructor ({ host = '127.0.0.1', port, socketType = 'DEALER', identity = '', log = () => {} }) {
    Object.assign(this, { host, port, socketType, identity, log })
    this.buf = Buffer.alloc(0); this.state = 'greeting'; this.msgs = []; this.cur = []; this.waiters = []
    this.closed = false; this.peerGreeting = null; this.peerProps = null; this.commands = []
  }
  connect (timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error('ZMTP handshake timeout')); this.sock.destroy() }, timeoutMs)
      this.sock = net.connect(this.port, this.host)
      this.sock.on('connect', () => {
        this.sock.write(greeting())
        this.sock.write(command('READY', readyBody({ 'Socket-Type': this.socketType, Identity: this.identity })))
      })
      this.onReady = () => { clearTimeout(t); resolve(this) }
      this.sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); try { this.parse() } catch (e) { this.log('parse error', e.message); this.sock.destroy() } })
      this.sock.on('close', () => { this.closed = true; clearTimeout(t); if (this.state !== 'open') reject(new Error('TCP closed during ZMTP handshake (state ' + this.state + ')')); this.wake() })
      this.sock.on('error', (e) => { this.log('socket error', e.message) })
    })
  }
  parse () {
    for (;;) {
      if (this.state === 'greeting') {
        if (this.buf.length < 64) return
        this.peerGreeting = { major: this.buf[10], minor: this.buf[11], mechanism: this.buf.subarray(12, 32).toString().replace(/\0+$/, ''), asServer: this.buf[32] }
        if (this.buf[0] !== 0xff || (this.buf[9] & 1) !== 1) throw new Error('bad greeting signature')
        this.buf = this.buf.subarray(64); this.state = 'ready'; continue
      }
      if (this.buf.length < 2) return
      const flags = this.buf[0]; let size; let off
      if (flags & 2) { if (this.buf.length < 9) return; size = Number(this.buf.readBigUInt64BE(1)); off = 9 } else { size = this.buf[1]; off = 2 }
      if (this.buf.length < off + size) return
      const body = new Uint8Array(this.buf.subarray(off, off + size)); this.buf = this.buf.subarray(off + size)
      if (flags & 4) {
        const n = body[0]; const name = Buffer.from(body.subarray(1, 1 + n)).toString(); const data = body.subarray(1 + n)
        this.commands.push(name)
        if (name === 'READY') { this.peerProps = parseProps(data); this.state = 'open'; this.onReady?.() } else if (name === 'ERROR') { this.log('peer ERROR', Buffer.from(data.subarray(1)).toString()) } else if (name === 'PING') { this.sock.write(command('PONG', data.subarray(2))) } else this.log('command', name)
        continue
      }
      this.cur.push(body)
      if (!(flags & 1)) { this.msgs.push(this.cur); this.cur = []; this.wake() }
    }
  }
  wake () { const w = this.waiters; this.waiters = []; for (const f of w) f() }
  send (parts) { const out = parts.map((p, i) => frame(p, { more: i < parts.length - 1 })); return new Promise(resolve => this.sock.write(Buffer.concat(out.map(b => Buffer.from(b))), resolve)) }
  writeRaw (b) { return new Promise(resolve => this.sock.write(b, resolve)) }
  // next whole message, or null on close / timeout
  async recv (timeoutMs = 5000) {
    const until = Date.now() + timeoutMs
    while (this.msgs.length === 0 && !this.closed && Date.now() < until) {
      await new Promise(resolve => { const t = setTimeout(resolve, until - Date.now()); this.waiters.push(() => { clearTimeout(t); resolve() }) })
    }
    return this.msgs.shift() ?? null
  }
  // resolves true if TCP closed within timeoutMs
  async waitClosed (timeoutMs) {
    const until = Date.now() + timeoutMs
    while (!this.closed && Date.now() < until) await new Promise(resolve => { const t = setTimeout(resolve, Math.min(200, until - Date.now())); this.waiters.push(() => { clearTimeout(t); resolve() }) })
    return this.closed
  }
  close () { this.sock.destroy() }
}
