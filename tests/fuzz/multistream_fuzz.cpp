// Fuzz target: multistream-select negotiation, both roles. The first byte
// picks a chunk size; the rest is what the peer sends.
// Properties: the outcome (done/failed, selected protocol, error code,
// output, leftover) does not depend on how the input is split; a selected
// protocol is one we offered; output stays bounded (at most one answer per
// proposal, a bounded number of proposals); leftover bytes are exactly the
// input's tail.
#include <algorithm>
#include <string>

#include "fuzz_target.hpp"
#include "p2p/multistream.hpp"

namespace {

using aqua::bytes;
using aqua::bytes_view;
using namespace aqua::p2p;

const std::vector<std::string> listener_protocols = {"/yamux/1.0.0", "/noise", "/ipfs/id/1.0.0"};
const std::vector<std::string> dialer_protocols = {"/mplex/6.7.0", "/yamux/1.0.0"};

struct outcome {
  bool done = false;
  bool failed = false;
  std::string selected;
  aqua::errc code = aqua::errc::invalid_argument;
  bytes output;
  bytes leftover;
  bool operator==(const outcome&) const = default;
};

template <class negotiator>
outcome run(negotiator n, bytes_view in, std::size_t chunk) {
  outcome o;
  o.output = n.take_output();
  for (std::size_t pos = 0; pos < in.size(); pos += chunk) {
    auto r = n.on_data(in.subspan(pos, std::min(chunk, in.size() - pos)));
    auto out = n.take_output();
    o.output.insert(o.output.end(), out.begin(), out.end());
    auto left = n.take_leftover();
    o.leftover.insert(o.leftover.end(), left.begin(), left.end());
    if (!r) {
      AQUA_FUZZ_CHECK(n.failed());
      break;
    }
  }
  o.done = n.done();
  o.failed = n.failed();
  o.selected = n.selected();
  if (o.failed) o.code = n.failure().code();
  return o;
}

template <class negotiator>
void check(const std::vector<std::string>& protocols, bytes_view in, std::size_t chunk) {
  auto whole = run(negotiator(protocols), in, in.size() + 1);
  auto split = run(negotiator(protocols), in, chunk);
  AQUA_FUZZ_CHECK(whole == split);
  AQUA_FUZZ_CHECK(!(whole.done && whole.failed));
  if (whole.done) {
    AQUA_FUZZ_CHECK(std::find(protocols.begin(), protocols.end(), whole.selected) != protocols.end());
    AQUA_FUZZ_CHECK(whole.leftover.size() <= in.size());
    AQUA_FUZZ_CHECK(std::equal(whole.leftover.begin(), whole.leftover.end(), in.end() - whole.leftover.size()));
  } else {
    AQUA_FUZZ_CHECK(whole.leftover.empty() && whole.selected.empty());
  }
  // header + at most one answer (<= 1026 bytes) per proposal, plus the deciding one
  AQUA_FUZZ_CHECK(whole.output.size() <= 20 + (multistream_max_proposals + 1) * 1026);
}

void append(bytes& out, const bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

} // namespace

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  std::vector<std::vector<std::uint8_t>> out;
  // What a dialer sends (fed to our listener): header + proposal, js-libp2p
  // optimistic select with data, a refused proposal then a good one, ls.
  bytes s = {1};
  append(s, multistream_dialer({"/yamux/1.0.0"}).take_output());
  out.push_back(s);
  s = {7};
  append(s, multistream_dialer({"/ipfs/id/1.0.0"}).take_output());
  append(s, bytes{0x00, 0x02, 0x0a, 0x00});
  out.push_back(s);
  s = {3};
  append(s, multistream_dialer({"/ipfs/ping/1.0.0"}).take_output());
  append(s, multistream_encode("ls"));
  append(s, multistream_encode("/noise"));
  out.push_back(s);
  // What a listener sends (fed to our dialer): header, "na", the echo, data.
  s = {2};
  append(s, multistream_encode(multistream_protocol_id));
  append(s, multistream_encode("na"));
  append(s, multistream_encode("/yamux/1.0.0"));
  append(s, bytes{0, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0});
  out.push_back(s);
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 32;
  bytes_view in(data + 1, size - 1);
  check<multistream_listener>(listener_protocols, in, chunk);
  check<multistream_dialer>(dialer_protocols, in, chunk);
  return 0;
}
