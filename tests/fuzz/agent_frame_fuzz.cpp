// Fuzz target: agent frames (framework/src/agent/agent_frame), the JSON
// payload every agent message carries (docs/agents.md, "Wire format").
// Properties: a decoded frame respects the documented bounds, and encoding
// it gives bytes that decode to the same frame and encode identically again
// (a fixpoint after one round).
#include "agent/agent_frame.hpp"
#include "fuzz_target.hpp"

namespace {

using aqua::agents::frame;
using aqua::agents::frame_kind;

bool same(const frame& a, const frame& b) {
  return a.kind == b.kind && a.correlation == b.correlation && a.type == b.type && a.from == b.from &&
         a.deadline_unix_ms == b.deadline_unix_ms && a.body == b.body && a.error_code == b.error_code &&
         a.error_message == b.error_message;
}

std::vector<std::uint8_t> seed(frame_kind kind, std::string type, aqua::bytes body, std::string code = {}) {
  frame f;
  f.kind = kind;
  f.correlation = "00112233445566778899aabbccddeeff";
  f.type = std::move(type);
  f.from = "research";
  f.deadline_unix_ms = kind == frame_kind::request ? 1764115200000 : 0;
  f.body = std::move(body);
  if (kind == frame_kind::error) {
    f.error_code = std::move(code);
    f.error_message = "no such thing";
  }
  auto out = aqua::agents::encode(f);
  return out ? *out : std::vector<std::uint8_t>{};
}

} // namespace

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  std::string text = "find EV headlines";
  return {seed(frame_kind::request, "research.brief", aqua::bytes(text.begin(), text.end())),
          seed(frame_kind::reply, "data.stats", aqua::bytes{0x00, 0xff, 0x10}),
          seed(frame_kind::error, "news.query", {}, "not_found"), seed(frame_kind::tell, "log", {})};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto f = aqua::agents::decode(aqua::bytes_view(data, size));
  if (!f) {
    AQUA_FUZZ_CHECK(f.err().code() == aqua::errc::bad_frame || f.err().code() == aqua::errc::unknown_version);
    return 0;
  }
  AQUA_FUZZ_CHECK(f->type.size() <= 255 && f->from.size() <= 255);
  auto once = aqua::agents::encode(*f);  // encode refuses only what decode drops: a decoded frame encodes
  AQUA_FUZZ_CHECK(once);
  auto again = aqua::agents::decode(*once);
  AQUA_FUZZ_CHECK(again && same(*f, *again));
  auto twice = aqua::agents::encode(*again);
  AQUA_FUZZ_CHECK(twice && *twice == *once);
  return 0;
}
