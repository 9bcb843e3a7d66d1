#pragma once
// Private, sans-I/O: libp2p multistream-select 1.0 (docs/protocol/multistream.md),
// the protocol negotiation that runs at the start of every raw connection
// (security, then muxer) and of every muxed stream.
//
// Wire: every message is an unsigned varint length (minimal encoding) ||
// UTF-8 text || '\n', the length counting the '\n'. Both sides send the
// header "/multistream/1.0.0"; the dialer proposes one protocol at a time,
// the listener echoes it (accepted) or answers "na".
//
//   multistream_dialer d({"/yamux/1.0.0"});
//   send(d.take_output());            // header + first proposal
//   on every read: d.on_data(bytes); send(d.take_output());
//   if (d.done()) { use d.selected(); feed d.take_leftover() to the protocol; }
//
// After done(), every byte on_data receives (and every byte after the
// deciding message in the same read) is application data of the selected
// protocol: it is kept, never interpreted, and returned by take_leftover().
// Errors are sticky: once failed(), on_data returns failure() again.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"

namespace aqua::p2p {

inline constexpr std::string_view multistream_protocol_id = "/multistream/1.0.0";
// Largest message payload accepted or sent, counting the trailing '\n'
// (js-libp2p's MAX_PROTOCOL_LENGTH); the length prefix is at most 2 bytes.
inline constexpr std::size_t multistream_max_message = 1024;
// A listener fails after this many rejected proposals ("na" answers and
// "ls" requests); a dialer accepts at most this many protocols to try.
inline constexpr std::size_t multistream_max_proposals = 32;

// One message: varint(text.size() + 1) || text || '\n'.
bytes multistream_encode(std::string_view text);

namespace detail {
// Splits length-prefixed messages out of a byte stream.
class multistream_reader {
 public:
  // Appends `in`; previously unread bytes stay in front.
  void append(bytes_view in);
  // The next message without its '\n'; nullopt = need more bytes.
  result<std::optional<std::string>> next();
  // Unread bytes (everything after the last message returned).
  bytes take_rest();

 private:
  bytes buf_;
  std::size_t pos_ = 0;
};

// What the dialer and the listener share: the peer's header, the done and
// failed states (errors are sticky), output and leftover bytes.
class multistream_side {
 public:
  result<void> on_data(bytes_view in);
  bytes take_output();
  bytes take_leftover();

  bool done() const noexcept { return state_ == state::done; }
  bool failed() const noexcept { return state_ == state::failed; }
  // The accepted protocol; empty until done().
  const std::string& selected() const noexcept { return selected_; }
  // Why negotiation failed; meaningful only when failed().
  const error& failure() const noexcept { return failure_; }

 protected:
  explicit multistream_side(std::string who) : who_(std::move(who)) {}
  ~multistream_side() = default;
  multistream_side(const multistream_side&) = default;
  multistream_side& operator=(const multistream_side&) = default;
  multistream_side(multistream_side&&) = default;
  multistream_side& operator=(multistream_side&&) = default;
  // Each message after the peer's header, until select() or an error.
  virtual result<void> on_message(const std::string& text) = 0;
  result<void> fail(error e);
  void select(const std::string& protocol);

  std::string who_;  // "multistream dialer" / "multistream listener", for errors
  bytes output_;

 private:
  enum class state { await_header, negotiating, done, failed };
  state state_ = state::await_header;
  std::string selected_;
  error failure_{errc::invalid_argument, {}};
  multistream_reader reader_;
  bytes leftover_;
};
} // namespace detail

class multistream_dialer final : public detail::multistream_side {
 public:
  // Tries the protocols in order, the next one after each "na". The header
  // and the first proposal are in take_output() at once. An empty list, more
  // than multistream_max_proposals entries, or a protocol that is empty,
  // contains '\n' or does not fit a message make the dialer failed() at once
  // (invalid_argument). failure() after negotiation: not_found when the
  // listener said "na" to every protocol; bad_frame / frame_too_large when
  // the listener broke the protocol.
  explicit multistream_dialer(std::vector<std::string> protocols_to_try);

 private:
  result<void> on_message(const std::string& text) override;

  std::vector<std::string> protocols_;
  std::size_t current_ = 0;
};

class multistream_listener final : public detail::multistream_side {
 public:
  // Accepts any of `supported` (exact byte match); answers "na" to anything
  // else and to a repeated header, and answers "ls" with the list. The
  // header is in take_output() at once (sent without waiting, as
  // go-multistream does). A supported entry that could not be echoed (empty,
  // contains '\n', too long) makes the listener failed() at once.
  explicit multistream_listener(std::vector<std::string> supported);

  // Proposals answered with "na" (or "ls") so far.
  std::size_t rejected() const noexcept { return rejected_; }

 private:
  result<void> on_message(const std::string& text) override;

  std::vector<std::string> supported_;
  std::size_t rejected_ = 0;
};

} // namespace aqua::p2p
