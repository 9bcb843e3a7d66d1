#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "p2p/yamux_session.hpp"

using namespace aqua;
using namespace aqua::p2p;

namespace {

using kind = yamux_event_kind;

bytes frame(yamux_type type, std::uint16_t flags, std::uint32_t id, std::uint32_t length, bytes_view payload = {}) {
  bytes out;
  encode_yamux_header(out, {yamux_version, type, flags, id, length});
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<yamux_event> drain(yamux_session& s) {
  std::vector<yamux_event> out;
  while (auto ev = s.next_event()) out.push_back(std::move(*ev));
  return out;
}

bool has_go_away(const bytes& out, std::uint32_t code) {
  auto want = frame(yamux_type::go_away, 0, 0, code);
  return std::search(out.begin(), out.end(), want.begin(), want.end()) != out.end();
}

// Two sessions wired back to back; output crosses over in random chunks.
struct wired {
  yamux_session client{yamux_role::client};
  yamux_session server{yamux_role::server};
  std::mt19937 rng{7};

  void feed(const bytes& data, yamux_session& to) {
    std::size_t pos = 0;
    while (pos < data.size()) {
      std::size_t n = std::min<std::size_t>(data.size() - pos, 1 + rng() % 70000);
      ASSERT_TRUE(to.on_data(bytes_view(data).subspan(pos, n)));
      pos += n;
    }
  }
  // Moves bytes both ways once; true if anything moved.
  bool step() {
    auto c = client.take_output();
    auto s = server.take_output();
    feed(c, server);
    feed(s, client);
    return !c.empty() || !s.empty();
  }
};

} // namespace

TEST(yamux, encodes_headers_big_endian_as_in_the_spec) {
  bytes out;
  encode_yamux_header(out, {0, yamux_type::window_update, yamux_flag::syn, 1, 0});
  EXPECT_EQ(out, (bytes{0x00, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 0}));
  out.clear();
  encode_yamux_data(out, yamux_flag::fin, 0x01020304, bytes{'h', 'i'});
  EXPECT_EQ(out, (bytes{0x00, 0x00, 0x00, 0x04, 1, 2, 3, 4, 0, 0, 0, 2, 'h', 'i'}));
  auto h = decode_yamux_header(bytes{0x00, 0x03, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 2});
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, yamux_type::go_away);
  EXPECT_EQ(h->length, yamux_go_away::internal_error);
  EXPECT_FALSE(decode_yamux_header(bytes{0x01, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}));
  EXPECT_FALSE(decode_yamux_header(bytes{0x00, 0x04, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}));
  EXPECT_FALSE(decode_yamux_header(bytes{0x00, 0x00, 0, 0}));
}

TEST(yamux, client_opens_odd_and_server_even_stream_ids) {
  yamux_session c(yamux_role::client), s(yamux_role::server);
  EXPECT_EQ(*c.open_stream(), 1u);
  EXPECT_EQ(*c.open_stream(), 3u);
  EXPECT_EQ(*s.open_stream(), 2u);
  // SYN in a WindowUpdate frame with delta 0, as js-libp2p does.
  bytes want = frame(yamux_type::window_update, yamux_flag::syn, 1, 0);
  auto more = frame(yamux_type::window_update, yamux_flag::syn, 3, 0);
  want.insert(want.end(), more.begin(), more.end());
  EXPECT_EQ(c.take_output(), want);
  EXPECT_EQ(s.take_output(), frame(yamux_type::window_update, yamux_flag::syn, 2, 0));
}

TEST(yamux, accepts_peer_stream_with_ack_and_reports_data) {
  yamux_session s(yamux_role::server);
  auto in = frame(yamux_type::data, yamux_flag::syn, 1, 5, as_bytes("hello"));
  ASSERT_TRUE(s.on_data(in));
  EXPECT_EQ(s.take_output(), frame(yamux_type::window_update, yamux_flag::ack, 1, 0));
  auto ev = drain(s);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, kind::stream_opened);
  EXPECT_EQ(ev[0].stream_id, 1u);
  EXPECT_EQ(ev[1].kind, kind::data);
  EXPECT_EQ(ev[1].data, bytes(in.begin() + 12, in.end()));
}

TEST(yamux, answers_ping_with_ack_echoing_opaque) {
  yamux_session s(yamux_role::server);
  ASSERT_TRUE(s.on_data(bytes{0x00, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef}));
  EXPECT_EQ(s.take_output(), (bytes{0x00, 0x02, 0x00, 0x02, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef}));
  auto ev = drain(s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, kind::ping);
  EXPECT_EQ(ev[0].value, 0xdeadbeefu);
}

TEST(yamux, reports_pong_for_our_ping_only) {
  wired p;
  ASSERT_TRUE(p.client.ping(42));
  EXPECT_EQ(p.client.take_output(), frame(yamux_type::ping, yamux_flag::syn, 0, 42));
  ASSERT_TRUE(p.server.on_data(frame(yamux_type::ping, yamux_flag::syn, 0, 42)));
  ASSERT_TRUE(p.client.on_data(p.server.take_output()));
  auto ev = drain(p.client);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, kind::pong);
  EXPECT_EQ(ev[0].value, 42u);
  // an unrequested (or repeated) pong is ignored, not an error
  ASSERT_TRUE(p.client.on_data(frame(yamux_type::ping, yamux_flag::ack, 0, 42)));
  EXPECT_TRUE(drain(p.client).empty());
}

TEST(yamux, transfers_10_mib_through_windows_both_directions) {
  wired p;
  const std::size_t total = 10 * 1024 * 1024;
  bytes up(total), down(total);
  for (std::size_t i = 0; i < total; ++i) {
    up[i] = static_cast<std::uint8_t>(i * 7 + (i >> 12));
    down[i] = static_cast<std::uint8_t>(i * 13 + (i >> 10));
  }
  auto id = p.client.open_stream();
  ASSERT_TRUE(id);
  std::size_t up_sent = 0, down_sent = 0;
  bytes got_up, got_down;
  bool server_has_stream = false, client_closed = false, server_closed = false;
  bool fin_at_server = false, fin_at_client = false;
  int rounds = 0;
  while (rounds++ < 100000) {
    if (up_sent < total) {
      auto n = p.client.write(*id, bytes_view(up).subspan(up_sent, std::min<std::size_t>(total - up_sent, 300000)));
      ASSERT_TRUE(n);
      up_sent += *n;
    } else if (!client_closed) {
      ASSERT_TRUE(p.client.close_stream(*id));
      client_closed = true;
    }
    if (server_has_stream) {
      if (down_sent < total) {
        auto n = p.server.write(*id, bytes_view(down).subspan(down_sent, std::min<std::size_t>(total - down_sent, 123457)));
        ASSERT_TRUE(n);
        down_sent += *n;
      } else if (!server_closed) {
        ASSERT_TRUE(p.server.close_stream(*id));
        server_closed = true;
      }
    }
    bool moved = p.step();
    for (auto& ev : drain(p.server)) {
      if (ev.kind == kind::stream_opened) server_has_stream = true;
      if (ev.kind == kind::data) got_up.insert(got_up.end(), ev.data.begin(), ev.data.end());
      if (ev.kind == kind::stream_closed) fin_at_server = true;
    }
    for (auto& ev : drain(p.client)) {
      if (ev.kind == kind::data) got_down.insert(got_down.end(), ev.data.begin(), ev.data.end());
      if (ev.kind == kind::stream_closed) fin_at_client = true;
    }
    if (!moved && fin_at_server && fin_at_client) break;
    ASSERT_FALSE(p.client.failed() || p.server.failed());
  }
  EXPECT_EQ(got_up.size(), total);
  EXPECT_EQ(got_down.size(), total);
  EXPECT_TRUE(got_up == up);
  EXPECT_TRUE(got_down == down);
  EXPECT_TRUE(fin_at_server && fin_at_client);
  // both sides closed: the stream is gone on both ends
  EXPECT_EQ(p.client.stream_count(), 0u);
  EXPECT_EQ(p.server.stream_count(), 0u);
}

TEST(yamux, short_write_then_writable_after_window_update) {
  yamux_config cfg;
  cfg.max_buffered_per_stream = 1000;
  yamux_session c(yamux_role::client, cfg);
  auto id = *c.open_stream();
  bytes big(yamux_default_window + 5000, 0x55);
  auto n = c.write(id, big);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, yamux_default_window + 1000u); // the window plus the buffer
  EXPECT_EQ(c.send_window(id), 0u);
  EXPECT_EQ(c.buffered(id), 1000u);
  EXPECT_EQ(*c.write(id, big), 0u);
  (void) c.take_output();
  ASSERT_TRUE(c.on_data(frame(yamux_type::window_update, yamux_flag::ack, id, 600)));
  auto out = c.take_output();
  ASSERT_EQ(out.size(), 12u + 600u); // queued bytes go out at once
  auto ev = drain(c);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, kind::writable);
  EXPECT_EQ(c.buffered(id), 400u);
}

TEST(yamux, sends_window_update_after_half_a_window_is_consumed) {
  yamux_session s(yamux_role::server);
  bytes chunk(64 * 1024, 1);
  ASSERT_TRUE(s.on_data(frame(yamux_type::data, yamux_flag::syn, 1, static_cast<std::uint32_t>(chunk.size()), chunk)));
  (void) s.take_output(); // ACK
  drain(s);
  EXPECT_TRUE(s.take_output().empty()); // 64 KiB < half a window
  ASSERT_TRUE(s.on_data(frame(yamux_type::data, 0, 1, static_cast<std::uint32_t>(chunk.size()), chunk)));
  drain(s);
  EXPECT_EQ(s.take_output(), frame(yamux_type::window_update, 0, 1, 128 * 1024));
}

TEST(yamux, manual_mode_updates_window_only_when_consumed) {
  yamux_config cfg;
  cfg.window_update_on_delivery = false;
  yamux_session s(yamux_role::server, cfg);
  bytes chunk(200 * 1024, 1);
  ASSERT_TRUE(s.on_data(frame(yamux_type::data, yamux_flag::syn, 1, static_cast<std::uint32_t>(chunk.size()), chunk)));
  (void) s.take_output();
  drain(s);
  EXPECT_TRUE(s.take_output().empty());
  s.consumed(1, 10 * 1024 * 1024); // capped at what was received
  EXPECT_EQ(s.take_output(), frame(yamux_type::window_update, 0, 1, 200 * 1024));
  s.consumed(1, 1000);
  EXPECT_TRUE(s.take_output().empty());
}

TEST(yamux, announces_a_larger_initial_window) {
  yamux_config cfg;
  cfg.initial_window = 1024 * 1024;
  yamux_session c(yamux_role::client, cfg);
  ASSERT_TRUE(c.open_stream());
  EXPECT_EQ(c.take_output(), frame(yamux_type::window_update, yamux_flag::syn, 1, 768 * 1024));
  bytes big(1024 * 1024, 2);
  ASSERT_TRUE(c.on_data(frame(yamux_type::data, yamux_flag::ack, 1, static_cast<std::uint32_t>(big.size()), big)));
}

TEST(yamux, rejects_data_beyond_window) {
  yamux_session s(yamux_role::server);
  ASSERT_TRUE(s.on_data(frame(yamux_type::window_update, yamux_flag::syn, 1, 0)));
  (void) s.take_output();
  auto r = s.on_data(frame(yamux_type::data, 0, 1, yamux_default_window + 1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::frame_too_large);
  EXPECT_EQ(s.take_output(), frame(yamux_type::go_away, 0, 0, yamux_go_away::protocol_error));
  EXPECT_TRUE(s.failed());
  EXPECT_FALSE(s.on_data(frame(yamux_type::ping, yamux_flag::syn, 0, 1))); // sticky
  EXPECT_TRUE(s.take_output().empty());
  EXPECT_EQ(s.write(1, bytes{1}).err().code(), errc::connection_closed);
  EXPECT_FALSE(s.open_stream());
}

TEST(yamux, rejects_wrong_parity_stream_id) {
  yamux_session c(yamux_role::client);
  auto r = c.on_data(frame(yamux_type::window_update, yamux_flag::syn, 1, 0)); // odd = the client's own
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_frame);
  EXPECT_TRUE(has_go_away(c.take_output(), yamux_go_away::protocol_error));
  yamux_session s(yamux_role::server);
  EXPECT_FALSE(s.on_data(frame(yamux_type::data, yamux_flag::syn, 2, 0)));
}

TEST(yamux, rejects_protocol_violations_with_go_away) {
  struct bad_case {
    const char* name;
    bytes in;
  };
  bytes syn1 = frame(yamux_type::window_update, yamux_flag::syn, 1, 0);
  auto then = [&](bytes more) {
    bytes out = syn1;
    out.insert(out.end(), more.begin(), more.end());
    return out;
  };
  std::vector<bad_case> cases = {
      {"bad version", bytes{0x01, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}},
      {"unknown type", bytes{0x00, 0x07, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}},
      {"data on stream 0", frame(yamux_type::data, 0, 0, 0)},
      {"unknown stream without SYN", frame(yamux_type::data, 0, 5, 1, bytes{1})},
      {"window update for a never-opened stream", frame(yamux_type::window_update, 0, 3, 10)},
      {"our own never-allocated stream", frame(yamux_type::window_update, yamux_flag::ack, 2, 0)},
      {"duplicate SYN", then(syn1)},
      {"data after FIN", then(frame(yamux_type::data, yamux_flag::fin, 1, 1, bytes{8}))},
  };
  auto late = frame(yamux_type::data, 0, 1, 1, bytes{9});
  cases.back().in.insert(cases.back().in.end(), late.begin(), late.end());
  for (auto& c : cases) {
    yamux_session s(yamux_role::server);
    auto r = s.on_data(c.in);
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.err().code(), errc::bad_frame) << c.name << ": " << r.err().message();
    EXPECT_TRUE(has_go_away(s.take_output(), yamux_go_away::protocol_error)) << c.name;
  }
}

TEST(yamux, drops_frames_for_streams_already_gone) {
  yamux_session s(yamux_role::server);
  ASSERT_TRUE(s.on_data(frame(yamux_type::window_update, yamux_flag::syn, 1, 0)));
  ASSERT_TRUE(s.reset_stream(1));
  (void) s.take_output();
  drain(s);
  bytes late(1000, 3);
  ASSERT_TRUE(s.on_data(frame(yamux_type::data, 0, 1, 1000, late))); // in flight before our RST
  ASSERT_TRUE(s.on_data(frame(yamux_type::window_update, 0, 1, 5)));
  EXPECT_TRUE(drain(s).empty());
  EXPECT_TRUE(s.take_output().empty());
  EXPECT_FALSE(s.failed());
}

TEST(yamux, drops_the_rest_of_a_frame_for_a_stream_reset_meanwhile) {
  yamux_session s(yamux_role::server);
  bytes in = frame(yamux_type::data, yamux_flag::syn, 1, 6, bytes{1, 2, 3, 4, 5, 6});
  auto ping = frame(yamux_type::ping, yamux_flag::syn, 0, 9);
  in.insert(in.end(), ping.begin(), ping.end());
  ASSERT_TRUE(s.on_data(bytes_view(in).first(15)));
  ASSERT_TRUE(s.reset_stream(1));
  ASSERT_TRUE(s.on_data(bytes_view(in).subspan(15)));
  std::vector<kind> kinds;
  for (auto& ev : drain(s)) kinds.push_back(ev.kind);
  EXPECT_EQ(kinds, (std::vector<kind>{kind::stream_opened, kind::ping}));
}

TEST(yamux, fin_half_closes) {
  wired p;
  auto id = *p.client.open_stream();
  ASSERT_TRUE(p.client.write(id, as_bytes("ping")));
  ASSERT_TRUE(p.client.close_stream(id));
  ASSERT_TRUE(p.client.close_stream(id)); // idempotent
  // SYN, the data (sent at once), then FIN in a WindowUpdate
  auto out = p.client.take_output();
  bytes want = frame(yamux_type::window_update, yamux_flag::syn, 1, 0);
  for (auto f : {frame(yamux_type::data, 0, 1, 4, as_bytes("ping")), frame(yamux_type::window_update, yamux_flag::fin, 1, 0)})
    want.insert(want.end(), f.begin(), f.end());
  EXPECT_EQ(out, want);
  ASSERT_TRUE(p.server.on_data(out));
  auto ev = drain(p.server);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[1].kind, kind::data);
  EXPECT_EQ(ev[2].kind, kind::stream_closed);
  EXPECT_EQ(p.client.write(id, bytes{1}).err().code(), errc::connection_closed);
  // the other direction still works
  ASSERT_EQ(*p.server.write(id, as_bytes("pong")), 4u);
  p.step();
  ev = drain(p.client);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, kind::data);
  EXPECT_EQ(ev[0].data, bytes(as_bytes("pong").begin(), as_bytes("pong").end()));
  ASSERT_TRUE(p.server.close_stream(id));
  EXPECT_FALSE(p.server.has_stream(id));
  p.step();
  ev = drain(p.client);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, kind::stream_closed);
  EXPECT_FALSE(p.client.has_stream(id));
}

TEST(yamux, fin_rides_on_the_last_queued_data_frame) {
  yamux_session c(yamux_role::client);
  auto id = *c.open_stream();
  bytes fill(yamux_default_window, 0);
  ASSERT_EQ(*c.write(id, fill), fill.size()); // window now 0
  ASSERT_EQ(*c.write(id, as_bytes("tail")), 4u);
  ASSERT_TRUE(c.close_stream(id));
  (void) c.take_output();
  ASSERT_TRUE(c.on_data(frame(yamux_type::window_update, yamux_flag::ack, id, 100)));
  EXPECT_EQ(c.take_output(), frame(yamux_type::data, yamux_flag::fin, id, 4, as_bytes("tail")));
}

TEST(yamux, rst_resets) {
  wired p;
  auto id = *p.client.open_stream();
  ASSERT_TRUE(p.client.write(id, as_bytes("x")));
  p.step();
  drain(p.server);
  (void) p.server.take_output(); // ACK
  ASSERT_TRUE(p.server.reset_stream(id));
  EXPECT_EQ(p.server.take_output(), frame(yamux_type::window_update, yamux_flag::rst, id, 0));
  ASSERT_TRUE(p.client.on_data(frame(yamux_type::window_update, yamux_flag::rst, id, 0)));
  auto ev = drain(p.client);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, kind::stream_reset);
  EXPECT_FALSE(p.client.has_stream(id));
  EXPECT_EQ(p.client.write(id, bytes{1}).err().code(), errc::connection_closed);
  EXPECT_EQ(p.client.write(99, bytes{1}).err().code(), errc::invalid_argument);
}

TEST(yamux, refuses_streams_beyond_max_streams_with_rst) {
  yamux_config cfg;
  cfg.max_streams = 1;
  yamux_session s(yamux_role::server, cfg);
  ASSERT_TRUE(s.on_data(frame(yamux_type::window_update, yamux_flag::syn, 1, 0)));
  (void) s.take_output();
  ASSERT_TRUE(s.on_data(frame(yamux_type::data, yamux_flag::syn, 3, 2, bytes{1, 2})));
  EXPECT_EQ(s.take_output(), frame(yamux_type::window_update, yamux_flag::rst, 3, 0));
  auto ev = drain(s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].stream_id, 1u);
  EXPECT_EQ(s.open_stream().err().code(), errc::would_block);
  ASSERT_TRUE(s.on_data(frame(yamux_type::data, 0, 3, 1, bytes{3}))); // stale, dropped
}

TEST(yamux, go_away_stops_new_streams) {
  wired p;
  auto id = *p.client.open_stream();
  p.step();
  (void) p.server.take_output(); // ACK
  ASSERT_TRUE(p.server.go_away());
  EXPECT_EQ(p.server.take_output(), frame(yamux_type::go_away, 0, 0, yamux_go_away::normal));
  ASSERT_TRUE(p.client.on_data(frame(yamux_type::go_away, 0, 0, yamux_go_away::normal)));
  bool saw = false;
  for (auto& ev : drain(p.client)) saw |= ev.kind == kind::go_away;
  EXPECT_TRUE(saw);
  EXPECT_EQ(p.client.remote_go_away(), std::optional<std::uint32_t>(0));
  EXPECT_EQ(p.client.open_stream().err().code(), errc::connection_closed);
  EXPECT_TRUE(p.client.write(id, as_bytes("still fine"))); // existing streams go on
  // a SYN after our GoAway is refused
  ASSERT_TRUE(p.server.on_data(frame(yamux_type::window_update, yamux_flag::syn, 5, 0)));
  EXPECT_EQ(p.server.take_output(), frame(yamux_type::window_update, yamux_flag::rst, 5, 0));
}

TEST(yamux, parses_frames_split_at_every_byte) {
  yamux_session s(yamux_role::server);
  bytes in = frame(yamux_type::data, yamux_flag::syn, 1, 3, bytes{1, 2, 3});
  auto ping = frame(yamux_type::ping, yamux_flag::syn, 0, 7);
  in.insert(in.end(), ping.begin(), ping.end());
  auto fin = frame(yamux_type::data, yamux_flag::fin, 1, 2, bytes{4, 5});
  in.insert(in.end(), fin.begin(), fin.end());
  for (auto c : in) ASSERT_TRUE(s.on_data(bytes{c}));
  std::vector<kind> kinds;
  bytes data;
  for (auto& ev : drain(s)) {
    kinds.push_back(ev.kind);
    data.insert(data.end(), ev.data.begin(), ev.data.end());
  }
  EXPECT_EQ(kinds, (std::vector<kind>{kind::stream_opened, kind::data, kind::ping, kind::data, kind::stream_closed}));
  EXPECT_EQ(data, (bytes{1, 2, 3, 4, 5}));
}

TEST(yamux, limits_outstanding_pings) {
  yamux_config cfg;
  cfg.max_pending_pings = 2;
  yamux_session c(yamux_role::client, cfg);
  ASSERT_TRUE(c.ping(1));
  ASSERT_TRUE(c.ping(2));
  EXPECT_EQ(c.ping(3).err().code(), errc::would_block);
  ASSERT_TRUE(c.on_data(frame(yamux_type::ping, yamux_flag::ack, 0, 1)));
  EXPECT_TRUE(c.ping(3));
}
