#include <gtest/gtest.h>

#include <string>

#include "p2p/multistream.hpp"

using namespace aqua;
using namespace aqua::p2p;

namespace {

bytes b(std::string_view s) { return bytes(s.begin(), s.end()); }
std::string str(const bytes& v) { return std::string(v.begin(), v.end()); }

// Exchanges output until neither side produces any.
void converse(multistream_dialer& d, multistream_listener& l) {
  for (int i = 0; i < 64; ++i) {
    auto to_l = d.take_output();
    auto to_d = l.take_output();
    if (to_l.empty() && to_d.empty()) return;
    if (!to_l.empty()) (void) l.on_data(to_l);
    if (!to_d.empty()) (void) d.on_data(to_d);
  }
}

} // namespace

TEST(multistream, encodes_messages_as_in_the_spec) {
  // "\x13/multistream/1.0.0\n": 0x13 = 19 = 18 characters + '\n'.
  EXPECT_EQ(str(multistream_encode(multistream_protocol_id)), std::string("\x13/multistream/1.0.0\n"));
  EXPECT_EQ(multistream_encode("na"), (bytes{0x03, 0x6e, 0x61, 0x0a})); // the spec's 0x036e610a
  EXPECT_EQ(multistream_encode("ls"), (bytes{0x03, 0x6c, 0x73, 0x0a})); // the spec's 0x036c730a
  std::string long_name(200, 'p');                                        // 201 bytes: two-byte varint
  auto enc = multistream_encode(long_name);
  ASSERT_EQ(enc.size(), 2u + 201u);
  EXPECT_EQ(enc[0], 0xc9);
  EXPECT_EQ(enc[1], 0x01);
}

TEST(multistream, dialer_sends_header_and_first_proposal_at_once) {
  multistream_dialer d({"/yamux/1.0.0", "/mplex/6.7.0"});
  EXPECT_EQ(str(d.take_output()), std::string("\x13/multistream/1.0.0\n\x0d/yamux/1.0.0\n"));
  EXPECT_FALSE(d.done());
  EXPECT_FALSE(d.failed());
}

TEST(multistream, listener_sends_header_without_waiting) {
  multistream_listener l({"/noise"});
  EXPECT_EQ(str(l.take_output()), std::string("\x13/multistream/1.0.0\n"));
}

TEST(multistream, negotiates_first_supported_protocol) {
  multistream_dialer d({"/noise", "/tls/1.0.0"});
  multistream_listener l({"/tls/1.0.0", "/noise"});
  converse(d, l);
  ASSERT_TRUE(d.done());
  ASSERT_TRUE(l.done());
  EXPECT_EQ(d.selected(), "/noise");
  EXPECT_EQ(l.selected(), "/noise");
  EXPECT_EQ(l.rejected(), 0u);
}

TEST(multistream, listener_answers_byte_exact_transcript) {
  multistream_listener l({"/yamux/1.0.0"});
  (void) l.take_output(); // our header
  ASSERT_TRUE(l.on_data(as_bytes(std::string_view("\x13/multistream/1.0.0\n\x0d/yamux/1.0.0\n"))));
  ASSERT_TRUE(l.done());
  EXPECT_EQ(str(l.take_output()), std::string("\x0d/yamux/1.0.0\n"));
}

TEST(multistream, answers_na_to_unknown_protocol_and_dialer_falls_back) {
  multistream_dialer d({"/ipfs/ping/1.0.0", "/ipfs/id/1.0.0"});
  multistream_listener l({"/ipfs/id/1.0.0"});
  auto hello = d.take_output();
  ASSERT_TRUE(l.on_data(hello));
  // header, then "na" for the unsupported ping protocol
  EXPECT_EQ(str(l.take_output()), std::string("\x13/multistream/1.0.0\n\x03na\n"));
  EXPECT_FALSE(l.done());
  ASSERT_TRUE(d.on_data(as_bytes(std::string_view("\x13/multistream/1.0.0\n\x03na\n"))));
  EXPECT_EQ(str(d.take_output()), std::string("\x0f/ipfs/id/1.0.0\n"));
  ASSERT_TRUE(l.on_data(as_bytes(std::string_view("\x0f/ipfs/id/1.0.0\n"))));
  EXPECT_TRUE(l.done());
  EXPECT_EQ(l.rejected(), 1u);
  ASSERT_TRUE(d.on_data(l.take_output()));
  EXPECT_TRUE(d.done());
  EXPECT_EQ(d.selected(), "/ipfs/id/1.0.0");
}

TEST(multistream, dialer_fails_with_not_found_when_every_protocol_is_refused) {
  multistream_dialer d({"/a", "/b"});
  multistream_listener l({"/c"});
  converse(d, l);
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(d.failure().code(), errc::not_found);
  EXPECT_FALSE(l.done());
  EXPECT_EQ(l.rejected(), 2u);
}

TEST(multistream, keeps_pipelined_data_after_negotiation) {
  // js-libp2p's optimistic select: header, proposal and data in one write.
  multistream_listener l({"/echo/1.0.0"});
  std::string in = "\x13/multistream/1.0.0\n\x0c/echo/1.0.0\nhello";
  ASSERT_TRUE(l.on_data(as_bytes(in)));
  ASSERT_TRUE(l.done());
  EXPECT_EQ(str(l.take_leftover()), "hello");
  ASSERT_TRUE(l.on_data(as_bytes(std::string_view(" again"))));
  EXPECT_EQ(str(l.take_leftover()), " again");
  EXPECT_TRUE(l.take_leftover().empty());

  // The listener may send data right after its echo, in the same segment.
  multistream_dialer d({"/echo/1.0.0"});
  ASSERT_TRUE(d.on_data(as_bytes(std::string_view("\x13/multistream/1.0.0\n\x0c/echo/1.0.0\n\x00\x01world", 40))));
  ASSERT_TRUE(d.done());
  EXPECT_EQ(d.take_leftover(), (bytes{0x00, 0x01, 'w', 'o', 'r', 'l', 'd'}));
}

TEST(multistream, parses_input_split_at_every_byte) {
  multistream_dialer d({"/x", "/y"});
  multistream_listener l({"/y"});
  std::string to_listener = str(d.take_output());
  for (char c : to_listener) ASSERT_TRUE(l.on_data(bytes{static_cast<std::uint8_t>(c)}));
  auto answer = l.take_output();
  for (auto c : answer) ASSERT_TRUE(d.on_data(bytes{c}));
  auto second = d.take_output();
  for (auto c : second) ASSERT_TRUE(l.on_data(bytes{c}));
  auto echo = l.take_output();
  echo.push_back('!');
  for (auto c : echo) ASSERT_TRUE(d.on_data(bytes{c}));
  EXPECT_TRUE(d.done());
  EXPECT_TRUE(l.done());
  EXPECT_EQ(d.selected(), "/y");
  EXPECT_EQ(str(d.take_leftover()), "!");
}

TEST(multistream, listener_answers_ls_with_its_protocols) {
  multistream_listener l({"/a", "/bb"});
  (void) l.take_output();
  ASSERT_TRUE(l.on_data(as_bytes(std::string_view("\x13/multistream/1.0.0\n\x03ls\n"))));
  // one message: varint(3)"/a\n" varint(4)"/bb\n" "\n", length 3+1 + 4+1 + 1 = 10
  EXPECT_EQ(str(l.take_output()), std::string("\x0a\x03/a\n\x04/bb\n\n"));
  EXPECT_FALSE(l.done());
  ASSERT_TRUE(l.on_data(as_bytes(std::string_view("\x04/bb\n"))));
  EXPECT_TRUE(l.done());
}

TEST(multistream, rejects_malformed_messages) {
  struct bad_case {
    std::string name;
    bytes in;
    errc code;
  };
  bytes too_long{0x81, 0x08}; // 1025
  too_long.resize(2 + 1025, 'a');
  std::vector<bad_case> cases = {
      {"wrong header", b("\x13/multistream/2.0.0\n"), errc::bad_frame},
      {"missing newline", b("\x13/multistream/1.0.0x"), errc::bad_frame},
      {"empty message", bytes{0x00}, errc::bad_frame},
      {"non-minimal varint", bytes{0x83, 0x00, 'n', 'a', '\n'}, errc::bad_frame},
      {"over 1024 bytes", too_long, errc::frame_too_large},
      {"three-byte length", bytes{0x80, 0x80, 0x01}, errc::frame_too_large},
  };
  for (const auto& c : cases) {
    multistream_listener l({"/a"});
    auto r = l.on_data(c.in);
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.err().code(), c.code) << c.name;
    EXPECT_TRUE(l.failed()) << c.name;
    auto again = l.on_data(multistream_encode(multistream_protocol_id));
    ASSERT_FALSE(again) << c.name << ": errors are sticky";
    EXPECT_EQ(again.err().code(), c.code);

    multistream_dialer d({"/a"});
    auto rd = d.on_data(c.in);
    ASSERT_FALSE(rd) << c.name;
    EXPECT_EQ(rd.err().code(), c.code) << c.name;
  }
}

TEST(multistream, accepts_a_message_of_exactly_1024_bytes) {
  std::string name = "/" + std::string(1022, 'p'); // 1023 + '\n' = 1024
  multistream_listener l({name});
  bytes in = multistream_encode(multistream_protocol_id);
  auto m = multistream_encode(name);
  in.insert(in.end(), m.begin(), m.end());
  ASSERT_TRUE(l.on_data(in));
  EXPECT_TRUE(l.done());
}

TEST(multistream, dialer_rejects_an_answer_that_is_neither_echo_nor_na) {
  multistream_dialer d({"/a"});
  std::string in = "\x13/multistream/1.0.0\n\x03/b\n";
  auto r = d.on_data(as_bytes(in));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_frame);
}

TEST(multistream, listener_gives_up_after_too_many_proposals) {
  multistream_listener l({"/a"});
  ASSERT_TRUE(l.on_data(multistream_encode(multistream_protocol_id)));
  for (std::size_t i = 0; i < multistream_max_proposals; ++i)
    ASSERT_TRUE(l.on_data(multistream_encode("/no/" + std::to_string(i))));
  auto r = l.on_data(multistream_encode("/one/more"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_frame);
}

TEST(multistream, refuses_unusable_protocol_lists) {
  EXPECT_EQ(multistream_dialer({}).failure().code(), errc::invalid_argument);
  EXPECT_TRUE(multistream_dialer({""}).failed());
  EXPECT_TRUE(multistream_dialer({"/a\n/b"}).failed());
  EXPECT_TRUE(multistream_dialer({"na"}).failed());
  EXPECT_TRUE(multistream_dialer({std::string(1024, 'x')}).failed());
  EXPECT_TRUE(multistream_dialer(std::vector<std::string>(multistream_max_proposals + 1, "/a")).failed());
  EXPECT_TRUE(multistream_listener({"ls"}).failed());
  EXPECT_TRUE(multistream_dialer({"/a"}).take_output().size() > 0);
  multistream_dialer bad({});
  EXPECT_TRUE(bad.take_output().empty());
  EXPECT_FALSE(bad.on_data(multistream_encode(multistream_protocol_id)));
}

TEST(multistream, listener_with_no_protocols_answers_na_to_everything) {
  multistream_listener l({});
  ASSERT_FALSE(l.failed());
  (void) l.take_output();
  bytes in = multistream_encode(multistream_protocol_id);
  auto p = multistream_encode("/ipfs/ping/1.0.0");
  in.insert(in.end(), p.begin(), p.end());
  ASSERT_TRUE(l.on_data(in));
  EXPECT_EQ(l.take_output(), multistream_encode("na"));
  EXPECT_FALSE(l.done());
}
