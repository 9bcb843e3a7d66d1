// Fuzz target: what aqua reads back from its store, and the inner payload an
// authenticated peer chooses: the inner framing inside every envelope
// (delivery/records: message, topic message, ack), the inbox, dedup and
// outbox records, held mail's m/ records and contact records
// (docs/storage.md, docs/protocol/delivery.md). A corrupt store or a
// hostile peer must get an error, never a crash.
// The first input byte picks the decoder, the rest is the record.
// Property: whatever decodes re-encodes to bytes that decode again and
// encode identically (a fixpoint after one round); inner payloads keep their
// payload, topic and acked IDs through a round, within the documented bounds.
#include "../framework/e2ee/e2ee_fixture.hpp"
#include "contacts/contact_store.hpp"
#include "delivery/outbox.hpp"
#include "delivery/records.hpp"
#include "fuzz_target.hpp"
#include "store/held_mail_records.hpp"

namespace {

using namespace aqua;
namespace hr = aqua::store::held_records;

enum kind : std::uint8_t { k_inner, k_in, k_dedup, k_out, k_mail, k_hash, k_expiry, k_contact, k_count };

// The contact whose record seeds k_contact; its key is the only one tried.
const test::party& alice() {
  static const auto p = test::party::make(0, std::make_shared<deterministic_env>(3));
  return p;
}
std::string alice_key() { return std::string(contact_prefix) + alice().id().str(); }

std::vector<std::uint8_t> tagged(kind k, const bytes& body) {
  std::vector<std::uint8_t> v(body.size() + 1, k);
  std::copy(body.begin(), body.end(), v.begin() + 1);
  return v;
}

// decode -> encode -> decode -> encode: the two encodings are equal.
template <class Decode, class Encode>
void check_fixpoint(bytes_view in, Decode decode, Encode encode) {
  auto first = decode(in);
  if (!first) return;
  const bytes once = encode(*first);
  auto second = decode(bytes_view(once));
  AQUA_FUZZ_CHECK(second);
  AQUA_FUZZ_CHECK(encode(*second) == once);
}

void check_inner(bytes_view in) {
  auto i = delivery::parse_inner(in);
  if (!i) {
    AQUA_FUZZ_CHECK(i.err().code() == errc::bad_envelope);
    return;
  }
  AQUA_FUZZ_CHECK(i->type == delivery::inner_message || i->type == delivery::inner_ack);
  if (i->type == delivery::inner_ack) {
    AQUA_FUZZ_CHECK(i->acked.size() <= delivery::max_ack_ids);
    auto again = delivery::parse_inner(delivery::frame_ack(i->acked));
    AQUA_FUZZ_CHECK(again && again->acked == i->acked);
  } else {
    AQUA_FUZZ_CHECK(i->topic.size() <= delivery::max_topic);
    auto again = delivery::parse_inner(delivery::frame_message(i->payload, i->topic));
    AQUA_FUZZ_CHECK(again && again->payload == i->payload && again->topic == i->topic);
  }
}

template <class T>
std::optional<T> opt(result<T> r) {
  if (!r) return std::nullopt;
  return std::move(*r);
}

} // namespace

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  const std::string payload = "hello";
  const bytes p(payload.begin(), payload.end());
  delivery::in_record in;
  in.seq = 7;
  in.message_id = "00112233445566778899aabbccddeeff";
  in.sender = alice().id().str();
  in.received_ms = 1764115200000;
  in.trust = "verified";
  in.transport = "zmq";
  in.payload = p;
  in.topic = "news";
  delivery::dedup_record d{7, in.sender, 1764115200000, std::nullopt};  // version 1: no tag
  auto tagged_d = d;
  tagged_d.tag.emplace();
  tagged_d.tag->fill(0x5a);
  delivery::out_record o;
  o.message_id = in.message_id;
  o.recipient = in.sender;
  o.envelope = bytes(64, 0xab);
  o.attempts = 2;
  o.created_ms = 1;
  o.next_attempt_ms = 2;
  o.expires_ms = 3;
  o.seq = 9;
  auto unsealed = o;  // queued behind a full send window: the inner frame instead of an envelope
  unsealed.envelope.clear();
  unsealed.inner = delivery::frame_message(p);
  auto failed = o;  // its last attempt failed: the reason at the end (version 3)
  failed.last_error = "no_route: no connection to 12D3KooW\xc3\xa9";
  auto digested = failed;  // version 4: flags, then the optional fields and the content digest
  digested.content = delivery::content_digest(o.message_id, delivery::frame_message(p));
  auto digested_unsealed = unsealed;
  digested_unsealed.content = digested.content;
  hr::mail_record m{bytes(32, 1), 10, 20, bytes(40, 2), in.sender};
  hr::hash_record h{5, 20, 40, in.sender};
  hr::expiry_record x{bytes(32, 1), 40, in.sender};
  contact c{alice().id(), "al", trust_state::verified, alice().card, 9};
  return {tagged(k_inner, delivery::frame_message(p)),
          tagged(k_inner, delivery::frame_message(p, "research.brief")),
          tagged(k_inner, delivery::frame_ack({in.message_id, "ffeeddccbbaa99887766554433221100"})),
          tagged(k_in, in.encode()),
          tagged(k_dedup, d.encode()),
          tagged(k_dedup, tagged_d.encode()),
          tagged(k_out, o.encode()),
          tagged(k_out, o.encode(false)),
          tagged(k_out, unsealed.encode()),
          tagged(k_out, failed.encode()),
          tagged(k_out, digested.encode()),
          tagged(k_out, digested_unsealed.encode()),
          tagged(k_mail, hr::encode_mail(m)),
          tagged(k_hash, hr::encode_hash(h)),
          tagged(k_expiry, hr::encode_expiry(x)),
          tagged(k_contact, encode_contact_record(c))};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bytes_view in(data + 1, size - 1);
  auto sv = [](bytes_view b) { return std::string_view(reinterpret_cast<const char*>(b.data()), b.size()); };
  switch (data[0] % k_count) {
    case k_inner:
      check_inner(in);
      break;
    case k_in:
      check_fixpoint(in, [](bytes_view b) { return opt(delivery::in_record::decode(b)); },
                     [](const delivery::in_record& r) { return r.encode(); });
      break;
    case k_dedup:
      check_fixpoint(in, [](bytes_view b) { return opt(delivery::dedup_record::decode(b)); },
                     [](const delivery::dedup_record& r) { return r.encode(); });
      break;
    case k_out:
      check_fixpoint(in, [](bytes_view b) { return opt(delivery::out_record::decode(b)); },
                     [](const delivery::out_record& r) { return r.encode(); });
      break;
    case k_mail:
      check_fixpoint(in, [&](bytes_view b) { return hr::decode_mail(sv(b)); }, hr::encode_mail);
      break;
    case k_hash:
      check_fixpoint(in, [&](bytes_view b) { return hr::decode_hash(sv(b)); }, hr::encode_hash);
      break;
    case k_expiry:
      check_fixpoint(in, [&](bytes_view b) { return hr::decode_expiry(sv(b)); }, hr::encode_expiry);
      break;
    default:
      check_fixpoint(in, [](bytes_view b) { return opt(decode_contact_record(alice_key(), b)); },
                     [](const contact& c) { return encode_contact_record(c); });
  }
  return 0;
}
