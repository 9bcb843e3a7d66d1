// Fuzz target: the libp2p /noise handshake, transport and stream framing
// (framework/src/p2p/noise_*.cpp). The first input byte picks where the rest
// goes: as handshake message 1, 2 or 3 to a party in the matching state, as
// a transport message, as a decrypted handshake payload, or as raw socket
// bytes to a noise_stream (fresh responder, and established). Properties:
// only the genuine messages complete a handshake, and then both sides agree
// on identities and keys; a decoded payload re-encodes to an equal payload;
// after any error the party stays failed.
#include "fuzz_target.hpp"
#include "p2p/noise.hpp"

namespace {

using namespace aqua;
using namespace aqua::p2p;

const keypair& alice() {
  static const keypair k = keypair::from_seed(bytes(32, 1)).value();
  return k;
}
const keypair& bob() {
  static const keypair k = keypair::from_seed(bytes(32, 2)).value();
  return k;
}

// Both parties, rebuilt identically for every input (deterministic RNGs).
struct world {
  deterministic_env ea{21}, eb{22};
  noise_handshake init = noise_handshake::initiator(alice(), ea, bob().id());
  noise_handshake resp = noise_handshake::responder(bob(), eb);
};

struct transcript {
  std::vector<bytes> msgs;  // handshake messages 1..3
  bytes transport;          // initiator -> responder "hello"
  bytes payload;            // responder's decoded handshake payload (plaintext)
  bytes stream;             // initiator's stream output: framed message 1
};

const transcript& real() {
  static const transcript t = [] {
    transcript t;
    world w;
    t.msgs.push_back(w.init.write_message().value());
    (void) w.resp.read_message(t.msgs[0]);
    t.msgs.push_back(w.resp.write_message().value());
    (void) w.init.read_message(t.msgs[1]);
    t.msgs.push_back(w.init.write_message().value());
    (void) w.resp.read_message(t.msgs[2]);
    t.transport = w.init.finish().value().encrypt(as_bytes("hello")).value();
    // The payload format, signed over some static key.
    noise_payload p{encode_libp2p_public_key(bob().pub()), bob().sign(noise_static_key_signing_input(bytes(32, 7))),
                    noise_extensions{{bytes{1, 2}}, {"/yamux/1.0.0"}}};
    t.payload = encode_noise_payload(p);
    deterministic_env e(23);
    t.stream = noise_stream::initiator(alice(), e).take_output();
    return t;
  }();
  return t;
}

// Feeds `in` to `h` as its next message; checks that failures stick.
bool feed(noise_handshake& h, bytes_view in) {
  auto r = h.read_message(in);
  if (!r) {
    AQUA_FUZZ_CHECK(h.failed() && !h.complete());
    AQUA_FUZZ_CHECK(!h.read_message(in) && !h.write_message() && !h.finish());
  }
  return static_cast<bool>(r);
}

void check_established(noise_handshake& init, noise_handshake& resp) {
  AQUA_FUZZ_CHECK(init.complete() && resp.complete());
  AQUA_FUZZ_CHECK(init.remote_peer() == bob().id() && resp.remote_peer() == alice().id());
  AQUA_FUZZ_CHECK(init.handshake_hash() == resp.handshake_hash());
  auto ti = init.finish().value();
  auto tr = resp.finish().value();
  AQUA_FUZZ_CHECK(tr.decrypt(ti.encrypt(as_bytes("ping")).value()).has_value());
}

void handshake_at(int stage, bytes_view in) {
  world w;
  const auto& t = real();
  if (stage == 0) {  // responder reads message 1
    if (feed(w.resp, in)) {
      AQUA_FUZZ_CHECK(in.size() == 32);
      (void) w.resp.write_message();
    }
    return;
  }
  (void) w.resp.read_message(w.init.write_message().value());
  auto m2 = w.resp.write_message().value();
  if (stage == 1) {  // initiator reads message 2
    if (!feed(w.init, in)) return;
    auto m3 = w.init.write_message().value();
    if (feed(w.resp, m3)) check_established(w.init, w.resp);
    return;
  }
  (void) w.init.read_message(m2);
  auto m3 = w.init.write_message().value();
  if (stage == 2) {  // responder reads message 3
    if (feed(w.resp, in)) {
      AQUA_FUZZ_CHECK(bytes(in.begin(), in.end()) == t.msgs[2]);
      check_established(w.init, w.resp);
    }
    return;
  }
  (void) w.resp.read_message(m3);
  auto tr = w.resp.finish().value();  // stage 3: responder decrypts a transport message
  auto p = tr.decrypt(in);
  if (!p) AQUA_FUZZ_CHECK(tr.dead() && !tr.decrypt(t.transport));
}

void payload(bytes_view in) {
  auto p = decode_noise_payload(in);
  if (!p) return;
  auto again = decode_noise_payload(encode_noise_payload(*p));
  AQUA_FUZZ_CHECK(again && *again == *p);
  (void) verify_noise_payload(*p, bytes(32, 7));
  (void) decode_libp2p_public_key(p->identity_key);
}

void stream(bytes_view in) {
  deterministic_env eb(24);
  auto s = noise_stream::responder(bob(), eb);
  // Odd-sized pieces, to cross frame boundaries.
  for (std::size_t at = 0, n = 1; at < in.size(); at += n, n = n * 3 % 17 + 1) {
    auto r = s.on_data(in.subspan(at, std::min(n, in.size() - at)));
    if (!r) {
      AQUA_FUZZ_CHECK(s.failed() && !s.on_data(in));
      break;
    }
  }
  while (s.next_plaintext()) {
  }
  (void) s.take_output();
  // An established pair, then the input as more bytes from the initiator.
  deterministic_env ea(25), eb2(26);
  auto a = noise_stream::initiator(alice(), ea, bob().id());
  auto b = noise_stream::responder(bob(), eb2);
  for (int i = 0; i < 3; ++i) {
    (void) b.on_data(a.take_output());
    (void) a.on_data(b.take_output());
  }
  AQUA_FUZZ_CHECK(a.established() && b.established());
  if (!b.on_data(in)) AQUA_FUZZ_CHECK(b.failed());
  while (b.next_plaintext()) {
  }
}

} // namespace

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  const auto& t = real();
  auto with = [](std::uint8_t mode, const bytes& b) {
    bytes s{mode};
    s.insert(s.end(), b.begin(), b.end());
    return s;
  };
  return {with(0, t.msgs[0]), with(1, t.msgs[1]), with(2, t.msgs[2]), with(3, t.transport),
          with(4, t.payload), with(5, t.stream)};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bytes_view in(data + 1, size - 1);
  switch (data[0] % 6) {
    case 4: payload(in); break;
    case 5: stream(in); break;
    default: handshake_at(data[0] % 6, in); break;
  }
  return 0;
}
