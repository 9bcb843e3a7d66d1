// Fuzz target: the yamux session parser and state machine, both roles. The
// first byte picks the role and a chunk size; the rest is what the peer
// sends.
// Properties: events, output and the verdict do not depend on how the input
// is split (a passive session: no writes, credit only on consumed()); a
// failed session's last output is a GoAway(protocol error); streams stay
// within max_streams, queued bytes within max_buffered_per_stream, and
// delivered data per stream within one receive window. An active session
// (echoes data, opens streams, pings, closes, resets) must never crash.
#include <algorithm>
#include <map>

#include "fuzz_target.hpp"
#include "p2p/yamux_session.hpp"

namespace {

using aqua::bytes;
using aqua::bytes_view;
using namespace aqua::p2p;

yamux_config small_config(bool auto_credit) {
  yamux_config c;
  c.max_streams = 8;
  c.max_buffered_per_stream = 4096;
  c.max_frame_payload = 1000;
  c.max_pending_pings = 4;
  c.window_update_on_delivery = auto_credit;
  return c;
}

struct trace {
  bytes output;
  std::vector<std::uint64_t> events; // kind, stream, value, size packed
  bool failed = false;
};

trace run_passive(yamux_role role, bytes_view in, std::size_t chunk) {
  yamux_session s(role, small_config(false));
  trace t;
  std::map<std::uint32_t, std::size_t> delivered;
  for (std::size_t pos = 0; pos < in.size(); pos += chunk) {
    auto r = s.on_data(in.subspan(pos, std::min(chunk, in.size() - pos)));
    while (auto ev = s.next_event()) {
      t.events.push_back((std::uint64_t{static_cast<std::uint8_t>(ev->kind)} << 56) ^
                         (std::uint64_t{ev->stream_id} << 24) ^ (std::uint64_t{ev->value} << 8) ^ ev->data.size());
      if (ev->kind == yamux_event_kind::stream_opened) delivered[ev->stream_id] = 0; // IDs may be reused
      if (ev->kind == yamux_event_kind::data) {
        delivered[ev->stream_id] += ev->data.size();
        AQUA_FUZZ_CHECK(delivered[ev->stream_id] <= yamux_default_window); // never credited: one window
      }
    }
    auto out = s.take_output();
    t.output.insert(t.output.end(), out.begin(), out.end());
    AQUA_FUZZ_CHECK(s.stream_count() <= 8);
    if (!r) {
      AQUA_FUZZ_CHECK(s.failed());
      bytes go_away;
      encode_yamux_header(go_away, {0, yamux_type::go_away, 0, 0, yamux_go_away::protocol_error});
      AQUA_FUZZ_CHECK(t.output.size() >= 12 && std::equal(go_away.begin(), go_away.end(), t.output.end() - 12));
      AQUA_FUZZ_CHECK(!s.on_data(in.subspan(0, 0)));
      AQUA_FUZZ_CHECK(s.take_output().empty());
      break;
    }
  }
  t.failed = s.failed();
  return t;
}

void run_active(yamux_role role, bytes_view in, std::size_t chunk) {
  yamux_session s(role, small_config(true));
  std::uint32_t tick = 0;
  bool pinged = false;
  for (std::size_t pos = 0; pos < in.size(); pos += chunk) {
    if (!s.on_data(in.subspan(pos, std::min(chunk, in.size() - pos)))) break;
    while (auto ev = s.next_event()) {
      ++tick;
      switch (ev->kind) {
        case yamux_event_kind::stream_opened:
          (void) s.write(ev->stream_id, ev->data.empty() ? bytes(300, 0x61) : ev->data);
          break;
        case yamux_event_kind::data:
          (void) s.write(ev->stream_id, ev->data); // echo
          if (tick % 5 == 0) (void) s.close_stream(ev->stream_id);
          if (tick % 11 == 0) (void) s.reset_stream(ev->stream_id);
          break;
        case yamux_event_kind::stream_closed:
          (void) s.close_stream(ev->stream_id);
          break;
        case yamux_event_kind::ping:
          // the first time, more than the peer's window: a short write
          if (auto id = s.open_stream()) {
            static const bytes big(yamux_default_window + 5000, 0x62);
            (void) s.write(*id, bytes_view(big).first(pinged ? 500 : big.size()));
          }
          pinged = true;
          (void) s.ping(ev->value);
          break;
        case yamux_event_kind::writable:
          (void) s.write(ev->stream_id, bytes(100, 0x63));
          break;
        default:
          break;
      }
      AQUA_FUZZ_CHECK(s.buffered(ev->stream_id) <= 4096);
    }
    AQUA_FUZZ_CHECK(s.stream_count() <= 8);
    (void) s.take_output();
  }
  (void) s.go_away();
}

void append(bytes& out, const bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

} // namespace

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  // A real exchange between two sessions; what each side sent is a seed for
  // the other role (first byte: bit 0 = role fed, the rest = chunk size).
  yamux_session c(yamux_role::client), s(yamux_role::server);
  bytes c_sent = {1}, s_sent = {2};
  auto pump = [&] {
    for (int i = 0; i < 8; ++i) {
      auto a = c.take_output(), b = s.take_output();
      if (a.empty() && b.empty()) return;
      (void) s.on_data(a);
      (void) c.on_data(b);
      append(c_sent, a);
      append(s_sent, b);
      while (auto ev = s.next_event())
        if (ev->kind == yamux_event_kind::data) (void) s.write(ev->stream_id, ev->data);
      while (c.next_event()) {
      }
    }
  };
  auto id1 = *c.open_stream();
  (void) c.write(id1, aqua::as_bytes("\x13/multistream/1.0.0\n\x11/ipfs/ping/1.0.0\n"));
  (void) c.ping(0);
  pump();
  auto id2 = *s.open_stream();
  (void) s.write(id2, bytes(1500, 7));
  (void) s.ping(1);
  (void) c.close_stream(id1);
  pump();
  (void) s.reset_stream(id1);
  (void) s.close_stream(id2);
  (void) c.write(id2, bytes(2500, 9));
  (void) c.close_stream(id2);
  pump();
  (void) c.go_away();
  (void) s.go_away();
  pump();
  // Many streams at once (beyond the fuzzed session's max_streams of 8),
  // some half-closed, some reset, window updates after 128 KiB.
  yamux_session c2(yamux_role::client);
  bytes many = {3};
  for (int i = 0; i < 12; ++i) {
    auto id = *c2.open_stream();
    (void) c2.write(id, bytes(1 + i * 100, static_cast<std::uint8_t>(i)));
    if (i % 3 == 0) (void) c2.close_stream(id);
    if (i % 4 == 1) (void) c2.reset_stream(id);
  }
  (void) c2.ping(5);
  (void) c2.on_data(bytes{0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0});             // ACK for stream 1
  (void) c2.on_data(bytes{0, 0, 0, 2, 0, 0, 0, 3, 0, 2, 0, 0});             // 128 KiB on stream 3
  append(many, c2.take_output());
  bytes big(128 * 1024, 1);
  (void) c2.on_data(big);
  while (c2.next_event()) {
  }
  append(many, c2.take_output());
  // The fuzzed server answered the ping by opening stream 2 and writing
  // more than a window: the client ACKs it and grants more.
  append(many, bytes{0, 1, 0, 2, 0, 0, 0, 2, 0, 0, 0x27, 0x10});
  // A server pushing more than half a window on a new stream, then FIN
  // (fed to a client: the receive side returns credit).
  bytes push = {0xfe};
  yamux_session s3(yamux_role::server);
  auto id3 = *s3.open_stream();
  (void) s3.write(id3, bytes(130 * 1024, 4));
  (void) s3.close_stream(id3);
  append(push, s3.take_output());
  return {c_sent, s_sent, many, push};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const yamux_role role = (data[0] & 1) ? yamux_role::server : yamux_role::client;
  const std::size_t chunk = 1 + (data[0] >> 1) * 11;
  bytes_view in(data + 1, size - 1);
  auto whole = run_passive(role, in, in.size() + 1);
  auto split = run_passive(role, in, chunk);
  AQUA_FUZZ_CHECK(whole.failed == split.failed);
  AQUA_FUZZ_CHECK(whole.events == split.events);
  AQUA_FUZZ_CHECK(whole.output == split.output);
  run_active(role, in, chunk);
  return 0;
}
