// Fuzz target: /aqua/mailbox/1.0.0 messages (p2p/mailbox_messages) and their
// stream framing. Properties: a decoded message re-encodes canonically to
// bytes that decode to the same message and are a fixpoint; decoded
// messages respect the documented bounds; the delimited reader yields the
// same messages and error whether the input arrives whole or in pieces.
#include <string>

#include "delimited_drain.hpp"
#include "fuzz_target.hpp"
#include "identity/keypair.hpp"
#include "p2p/mailbox_messages.hpp"
#include "p2p/relay_messages.hpp"

namespace {

using namespace aqua;
using namespace aqua::p2p::mailbox;

void check_message(bytes_view in) {
  auto m = decode(in);
  if (!m) return;
  AQUA_FUZZ_CHECK(m->mail.size() <= max_mail_per_message);
  AQUA_FUZZ_CHECK(m->ids.size() <= max_ack_ids);
  AQUA_FUZZ_CHECK(m->text.size() <= max_status_text);
  for (const auto& item : m->mail) AQUA_FUZZ_CHECK(item.id != 0 && !item.envelope.empty());
  auto enc = encode(*m);
  auto again = decode(enc);
  AQUA_FUZZ_CHECK(again.has_value());
  AQUA_FUZZ_CHECK(*again == *m);
  AQUA_FUZZ_CHECK(encode(*again) == enc);
  (void) to_result(m->status.value_or(status::unused), m->text);
  (void) peer_id::from_bytes(m->recipient);
}

} // namespace

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  std::vector<std::vector<std::uint8_t>> out;
  auto bob = keypair::from_seed(bytes(32, 2)).value().id();
  std::vector<message> msgs = {deposit(bob.to_bytes(), bytes(200, 1), 3600), status_message(status::ok),
                               status_message(status::quota_exceeded, "17 messages held"), fetch(),
                               mail({{1, bytes(50, 2), bytes(38, 7)}, {2, bytes(3, 3), {}}}), ack({1, 2, 300})};
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
