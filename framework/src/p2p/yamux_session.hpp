#pragma once
// Private, sans-I/O: one yamux session (/yamux/1.0.0) over one connection
// (docs/protocol/yamux.md). No sockets, no clock, no threads: the caller
// feeds received bytes to on_data(), drains next_event(), and sends what
// take_output() returns, in that order:
//
//   yamux_session s(yamux_role::client);
//   on every read:  if (!s.on_data(bytes)) -> GoAway is in the output; send it, close
//                   while (auto ev = s.next_event()) handle(*ev);
//                   send(s.take_output());
//   to send:        auto id = s.open_stream(); s.write(*id, data); send(s.take_output());
//
// Flow control. Sending: every stream starts with the peer's 256 KiB window;
// write() sends what the window allows (in Data frames of at most
// max_frame_payload bytes) and queues the rest, at most
// max_buffered_per_stream bytes; it returns how many bytes it took (possibly
// fewer than offered, possibly 0). After a short write a `writable` event
// says when the peer's window update made room. Receiving: each stream's
// window is config.initial_window (announced in the SYN/ACK window update);
// credit goes back to the peer once the application has consumed half a
// window: with window_update_on_delivery (default) data counts as consumed
// when next_event() hands it out, otherwise when the application calls
// consumed(). Received data held by the session is bounded by one window per
// stream.
//
// Peer-opened streams are accepted at once (WindowUpdate ACK) and reported
// as stream_opened, or refused with RST beyond max_streams or after a local
// go_away(). Ping requests are answered automatically (ACK echoing the
// opaque value) and reported. Protocol violations fail the session: on_data
// returns the error (and again on every later call), a GoAway with the
// protocol error code is in take_output(), and no more frames are produced.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"
#include "p2p/yamux_frame.hpp"

namespace aqua::p2p {

// The client (the side that dialled the connection) opens odd stream IDs,
// the server even ones.
enum class yamux_role : std::uint8_t { client, server };

struct yamux_config {
  // Live streams (both directions); a peer SYN beyond it is answered RST,
  // open_stream() beyond it fails with would_block.
  std::size_t max_streams = 256;
  // Our receive window per stream; below 256 KiB is raised to 256 KiB.
  std::uint32_t initial_window = yamux_default_window;
  // Bytes write() keeps queued per stream beyond the peer's window.
  std::size_t max_buffered_per_stream = 1024 * 1024;
  // Largest Data frame payload we send (js-libp2p's maxMessageSize).
  std::uint32_t max_frame_payload = 64 * 1024;
  // Outstanding ping() requests.
  std::size_t max_pending_pings = 16;
  // true: data counts as consumed when next_event() returns it; false: the
  // application calls consumed().
  bool window_update_on_delivery = true;
};

enum class yamux_event_kind : std::uint8_t {
  stream_opened, // the peer opened `stream_id` (already accepted)
  data,          // `data` arrived on `stream_id`
  stream_closed, // the peer half-closed `stream_id` (FIN): no more data from it
  stream_reset,  // the peer reset `stream_id` (RST); the stream is gone
  writable,      // after a short write(): `stream_id` can take more bytes
  ping,          // the peer pinged with opaque `value` (already answered)
  pong,          // the answer to our ping(`value`) arrived
  go_away,       // the peer will open no more streams; `value` is its code
};

struct yamux_event {
  yamux_event_kind kind = yamux_event_kind::data;
  std::uint32_t stream_id = 0;
  std::uint32_t value = 0;
  bytes data;
};

class yamux_session {
 public:
  explicit yamux_session(yamux_role role, yamux_config config = {});

  // Parses frames from the connection's byte stream, split or coalesced
  // arbitrarily. An error means a protocol violation (bad_frame, or
  // frame_too_large for data beyond the window): the session is failed.
  result<void> on_data(bytes_view in);
  std::optional<yamux_event> next_event();
  bytes take_output();

  // A new stream (SYN sent in a WindowUpdate frame). connection_closed after
  // a GoAway either way, a failure or when IDs run out; would_block at
  // max_streams.
  result<std::uint32_t> open_stream();
  // Bytes taken (sent or queued). connection_closed if the stream was
  // closed for writing, reset or is gone; invalid_argument for an ID that
  // never existed.
  result<std::size_t> write(std::uint32_t stream_id, bytes_view data);
  // Half-close (FIN), sent after the queued bytes. Idempotent while the
  // stream exists; connection_closed once it is gone (both FINs, or RST).
  result<void> close_stream(std::uint32_t stream_id);
  // RST; queued bytes are dropped and the stream is gone. ok() for a stream
  // already gone.
  result<void> reset_stream(std::uint32_t stream_id);
  // Returns receive credit for `n` bytes of `stream_id` handed out by
  // next_event() (only needed without window_update_on_delivery; never
  // credits more than was received). Unknown streams are ignored.
  void consumed(std::uint32_t stream_id, std::size_t n);
  // Ping with SYN; the answer comes back as a pong event. would_block when
  // max_pending_pings are outstanding.
  result<void> ping(std::uint32_t opaque);
  // GoAway: we open and accept no more streams; existing ones go on.
  result<void> go_away(std::uint32_t code = yamux_go_away::normal);

  bool failed() const noexcept { return failed_; }
  const error& failure() const noexcept { return failure_; }
  std::optional<std::uint32_t> remote_go_away() const noexcept { return remote_go_away_; }
  bool has_stream(std::uint32_t id) const { return streams_.count(id) != 0; }
  std::size_t stream_count() const noexcept { return streams_.size(); }
  // Bytes the peer's window still allows on `stream_id` (0 if unknown).
  std::uint64_t send_window(std::uint32_t stream_id) const;
  // Bytes write() has queued on `stream_id` (0 if unknown).
  std::size_t buffered(std::uint32_t stream_id) const;

 private:
  struct stream {
    std::uint64_t send_window = yamux_default_window; // peer's credit for us
    std::uint32_t recv_window = 0;                    // our credit the peer has not used
    std::uint32_t credit = 0;                         // consumed, not yet sent back
    bytes send_buf;
    std::size_t send_pos = 0;
    bool local_fin = false; // close_stream() called
    bool fin_sent = false;
    bool remote_fin = false;
    bool want_writable = false;
  };

  result<void> handle_header(const yamux_header& h);
  result<void> handle_stream_frame(const yamux_header& h);
  void finish_data_frame();
  void apply_close_flags(std::uint32_t id, std::uint16_t flags);
  void flush(std::uint32_t id, stream& s);
  void give_credit(std::uint32_t id, stream& s, std::size_t n);
  void send_control(yamux_type type, std::uint16_t flags, std::uint32_t id, std::uint32_t value);
  bool ours(std::uint32_t id) const noexcept { return (id % 2 == 1) == (role_ == yamux_role::client); }
  bool ever_existed(std::uint32_t id) const noexcept;
  void remove_if_done(std::uint32_t id);
  result<void> violation(errc code, std::string message);
  result<stream*> writable_stream(std::uint32_t id, const char* op);

  yamux_role role_;
  yamux_config config_;
  std::map<std::uint32_t, stream> streams_;
  std::uint32_t next_id_;          // our next stream ID
  std::uint32_t highest_peer_id_ = 0;
  bool ids_exhausted_ = false;
  std::set<std::uint32_t> pending_pings_;
  bool local_go_away_ = false;
  std::optional<std::uint32_t> remote_go_away_;
  bool failed_ = false;
  error failure_{errc::connection_closed, {}};

  // Parser: header bytes, then the payload of a Data frame.
  std::uint8_t head_[yamux_header_size] = {};
  std::size_t head_len_ = 0;
  bool in_payload_ = false;
  yamux_header current_;
  std::uint32_t payload_left_ = 0;
  bool discard_payload_ = false;
  bytes payload_;

  std::deque<yamux_event> events_;
  bytes output_;
};

} // namespace aqua::p2p
