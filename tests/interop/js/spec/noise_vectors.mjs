// noise_vectors.mjs — reproduces noise.md "Test vectors" 2 (the libp2p transcript) with noise.mjs; exit 1 on a mismatch
import { Handshake } from './noise.mjs'
import { hex, unhex } from './aqua_spec.mjs'
const f = (b) => new Uint8Array(32).fill(b)
const I = new Handshake(true, { identitySeed: f(1), staticSecret: f(0x11), ephemeralSecret: f(0x12) })
const R = new Handshake(false, { identitySeed: f(2), staticSecret: f(0x21), ephemeralSecret: f(0x22) })
const m1 = I.writeMessage1(); R.readMessage1(m1)
const m2 = R.writeMessage2(); const ri = I.readMessage2(m2)
const m3 = I.writeMessage3(); const rr = R.readMessage3(m3)
const a = I.split(); const b = R.split()
const want = {
  m1: '052a50773ac8d91773f2dc9662e12f0defe915e415b8a1c8e20a5a3d6ab2b843',
  m2: '0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20a7ed3a6a454f03d7bb49831f99155a0f5b30d08f206300ad054574e2c183e32473fc04f9ec728bfb00430cf36aed63af19b2fb5876fa3fa7f11b3434f5ec1061d1bd502b6cb4e76b8e87f263e6be422adc454f0e5f5f661f03c47bc6927b0e483dca94f8b5662eeac6b8f2f991f85dbbb51c16c7bf7da0c7000f86272cac8f93450c408ccfe560c4ba679841d160cff78498b6a4325c840f159336ed229337b67fb3be071b3e1168',
  m3: 'e86c81a880398a8d9bc21b322d8f524134ef9c0456a63ec2de76574116541dca41e9ab037523da5a84fbabef8d5aa97d27e4f597132223f511d2f4de776623fb3b3d8aaf51a49c0d4d1f6e23eed4651149fc5b9a6324d7aabc80e2ca20756876b77ac86253ef02b0eae304fa7cfc8078c239f2080babd496eb8f91d96113d3991ae9437a48622ac913e67c392c71efcc20e4e47fd72e012308269fff16260cc61691152cd1e914d3',
  hash: '162c951b281282951159d18079e40803791527b2217d85ef6469db00b03e1c4e',
  t1: 'aa95c32df597c589e3fe61f3cbede5197bb35b7cf3', t2: 'de1bbf216b294364f37e27eb720b6af617c4c858fb'
}
const got = { m1: hex(m1), m2: hex(m2), m3: hex(m3), hash: hex(a.hash), t1: hex(a.send.encrypt(new Uint8Array(0), new TextEncoder().encode('hello'))), t2: hex(b.send.encrypt(new Uint8Array(0), new TextEncoder().encode('hello'))) }
let ok = true
for (const k of Object.keys(want)) { const m = want[k] === got[k]; ok &&= m; console.log(k, m ? 'OK' : 'MISMATCH ' + got[k]) }
console.log('peers', ri.peerId, rr.peerId, 'sizes', m2.length, m3.length)
process.exit(ok ? 0 : 1)
