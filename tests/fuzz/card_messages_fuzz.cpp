// Fuzz target: /aqua/card/1.0.0 messages (p2p/card_messages) and their
// stream framing. Properties: a decoded message re-encodes canonically to
// bytes that decode to the same message and are a fixpoint; decoded
// messages respect the documented bounds and per-type rules; the delimited
// reader yields the same messages and error whether the input arrives whole
// or in pieces.
#include <string>

#include "delimited_drain.hpp"
#include "fuzz_target.hpp"
#include "identity/keypair.hpp"
#include "p2p/card_messages.hpp"
#include "p2p/relay_messages.hpp"

namespace {

using namespace aqua;
using namespace aqua::p2p::cards;

void check_message(bytes_view in) {
  auto m = decode(in);
  if (!m) return;
  AQUA_FUZZ_CHECK(m->card.size() <= max_card_size);
  AQUA_FUZZ_CHECK(m->peer.size() <= max_peer_size);
  AQUA_FUZZ_CHECK(m->text.size() <= max_status_text);
  switch (m->type) {
    case message::kind::publish:
    case message::kind::card: AQUA_FUZZ_CHECK(!m->card.empty()); break;
    case message::kind::lookup: AQUA_FUZZ_CHECK(!m->peer.empty()); break;
    case message::kind::status: AQUA_FUZZ_CHECK(m->status.has_value()); break;
  }
  auto enc = encode(*m);
  AQUA_FUZZ_CHECK(enc.size() <= in.size());  // canonical: unknown fields dropped, nothing added
  auto again = decode(enc);
  AQUA_FUZZ_CHECK(again.has_value());
  AQUA_FUZZ_CHECK(*again == *m);
  AQUA_FUZZ_CHECK(encode(*again) == enc);
  auto framed = frame(*m);
  AQUA_FUZZ_CHECK(framed.has_value());
  (void) to_error(m->status.value_or(status::unused), m->text);
  (void) to_string(m->status.value_or(status::unused));
  (void) peer_id::from_bytes(m->peer);
}

} // namespace

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  std::vector<std::vector<std::uint8_t>> out;
  auto bob = keypair::from_seed(bytes(32, 2)).value().id();
  std::vector<message> msgs = {publish(bytes(200, 1)), lookup(bob.to_bytes()), card_message(bytes(120, 3)),
                               status_message(status::ok), status_message(status::not_found, "no card for bob"),
                               status_message(status::stale_card, "older than the one held")};
  bytes stream;
  for (auto& m : msgs) {
    out.push_back(encode(m));
    auto f = frame(m).value();
    stream.insert(stream.end(), f.begin(), f.end());
  }
  out.push_back(stream);
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_message(bytes_view(data, size));
  auto whole = fuzz::drain_delimited(data, size, true, max_message_size);
  auto pieces = fuzz::drain_delimited(data, size, false, max_message_size);
  AQUA_FUZZ_CHECK(whole.failed == pieces.failed);
  AQUA_FUZZ_CHECK(whole.messages == pieces.messages);
  AQUA_FUZZ_CHECK(whole.rest == pieces.rest);
  for (auto& m : whole.messages) check_message(m);
  return 0;
}
