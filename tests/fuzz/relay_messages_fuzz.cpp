// Fuzz target: circuit relay v2 messages (p2p/relay_messages), the stream
// framing and what a relay client does with a reply (addresses, voucher).
// Properties: a decoded message re-encodes to bytes that decode to the same
// message and are a fixpoint of decode+encode; the delimited reader yields
// the same messages and error whether the input arrives whole or in pieces.
#include <string>

#include "delimited_drain.hpp"
#include "fuzz_target.hpp"
#include "identity/keypair.hpp"
#include "p2p/multiaddr_bytes.hpp"
#include "p2p/relay_messages.hpp"
#include "p2p/signed_envelope.hpp"

namespace {

using namespace aqua;
using namespace aqua::p2p::relay;

peer_id test_relay() { return keypair::from_seed(bytes(32, 1)).value().id(); }

template <class M, class D>
void check_round_trip(bytes_view in, D decode) {
  auto m = decode(in);
  if (!m) return;
  auto enc = encode(*m);
  if (enc.size() > max_message_size) return;  // canonical form may add an explicit expire
  auto again = decode(enc);
  AQUA_FUZZ_CHECK(again.has_value());
  AQUA_FUZZ_CHECK(*again == *m);
  AQUA_FUZZ_CHECK(encode(*again) == enc);
  if (m->limit) AQUA_FUZZ_CHECK(m->limit->duration_seconds() <= m->limit->duration.value_or(0));
  if (m->peer) {
    (void) peer_of(m->peer);
    for (auto& a : m->peer->addrs) (void) aqua::p2p::multiaddr_to_text(a);
  }
}

} // namespace

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  std::vector<std::vector<std::uint8_t>> out;
  auto relay = keypair::from_seed(bytes(32, 1)).value();
  auto peer = keypair::from_seed(bytes(32, 2)).value().id();
  reservation rsvp{1700003600, {aqua::p2p::multiaddr_from_text("/ip4/1.2.3.4/tcp/4001/p2p/" + relay.id().str()).value()},
                   aqua::p2p::make_voucher(relay, peer, 1700003600)};
  std::vector<bytes> msgs = {encode(hop_reserve()), encode(hop_connect(peer)),
                             encode(hop_status(status::ok, limit{120000, 131072}, rsvp)),
                             encode(hop_status(status::no_reservation)), encode(stop_connect(relay.id(), limit{120, 1})),
                             encode(stop_status(status::ok))};
  for (auto& m : msgs) out.push_back(m);
  bytes stream;  // framed messages followed by relayed bytes
  for (auto& m : msgs) {
    auto f = frame(m).value();
    stream.insert(stream.end(), f.begin(), f.end());
  }
  stream.insert(stream.end(), {0xde, 0xad, 0xbe, 0xef});
  out.push_back(stream);
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bytes_view in(data, size);
  check_round_trip<hop_message>(in, decode_hop);
  check_round_trip<stop_message>(in, decode_stop);
  if (auto m = decode_hop(in); m && m->reservation && !m->reservation->voucher.empty()) {
    static const peer_id relay = test_relay();
    (void) aqua::p2p::open_voucher(m->reservation->voucher, relay, 1700000000000);
  }

  auto whole = fuzz::drain_delimited(data, size, true, max_message_size);
  auto pieces = fuzz::drain_delimited(data, size, false, max_message_size);
  AQUA_FUZZ_CHECK(whole.failed == pieces.failed);
  AQUA_FUZZ_CHECK(whole.messages == pieces.messages);
  AQUA_FUZZ_CHECK(whole.rest == pieces.rest);
  for (auto& m : whole.messages) {
    (void) decode_hop(m);
    (void) decode_stop(m);
  }
  return 0;
}
