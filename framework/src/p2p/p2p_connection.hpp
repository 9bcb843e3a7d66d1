#pragma once
// Private, sans-I/O: one libp2p connection over a raw byte stream (TCP, or a
// relayed circuit stream), upgraded the way libp2p upgrades TCP:
//
//   multistream-select "/noise" -> Noise XX (noise_stream; the dialer is the
//   initiator and checks the expected peer ID) -> inside Noise,
//   multistream-select "/yamux/1.0.0" -> yamux_session
//
// then multistream-select on every stream: a listener with our supported
// set on peer-opened streams, a dialer on ours. Built in: /ipfs/ping/1.0.0
// (32-byte echoes), /ipfs/id/1.0.0 (answers our identify_info; parses the
// peer's when request_identify() asks), /ipfs/id/push/1.0.0 (read and
// ignored). Anything else the peer proposes that is not in
// p2p_config::protocols gets "na".
//
//   auto c = p2p_connection::dialer(identity, env, expected_peer, cfg);
//   write c.take_output() to the socket
//   on every read: if (!c.on_data(bytes)) -> write c.take_output(), close the socket
//                  while (auto ev = c.next_event()) handle(*ev);
//                  write c.take_output()
//
// No sockets, threads or timers: handshake timeouts and keepalive pings are
// the caller's. Errors are final (failed()); the first is returned again.
// Bounds: noise_stream (1 MiB input), yamux (windows, max_streams, 1 MiB
// queued per stream), max_pending_write per not-yet-negotiated stream,
// identify messages of identify_max_message bytes.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aqua/bytes.hpp"
#include "aqua/env.hpp"
#include "aqua/error.hpp"
#include "aqua/identity.hpp"
#include "identity/keypair.hpp"
#include "p2p/identify.hpp"
#include "p2p/multistream.hpp"
#include "p2p/session_stream.hpp"
#include "p2p/yamux_session.hpp"

namespace aqua::p2p {

inline constexpr std::string_view noise_protocol_id = "/noise";
inline constexpr std::string_view yamux_protocol_id = "/yamux/1.0.0";
inline constexpr std::size_t ping_payload_size = 32;

struct p2p_config {
  // Application protocols accepted on peer-opened streams (besides the built-in ones).
  std::vector<std::string> protocols;
  // Announced in our identify answer: binary multiaddrs we listen on.
  std::vector<bytes> listen_addrs;
  // The peer's address as we see it (binary multiaddr), sent as observedAddr.
  bytes observed_addr;
  std::string agent_version = "aqua/0.1";
  std::string protocol_version = "ipfs/0.1.0";
  // Ask the peer's identify as soon as the connection is established.
  bool identify_on_connect = false;
  yamux_config yamux;
};

enum class p2p_event_kind : std::uint8_t {
  established,   // upgrade done; `peer` is the verified remote
  stream_opened, // `stream_id` speaks `protocol`; `inbound` = the peer opened it
  stream_data,   // `data` arrived on `stream_id`
  stream_closed, // the peer half-closed `stream_id`
  stream_reset,  // `stream_id` is gone: peer RST, or our open_stream() was refused (`reason`)
  writable,      // after a short write(), `stream_id` takes more bytes
  identified,    // the peer's identify answer (`identify`) after request_identify()
  pong,          // our ping() came back after `rtt_ms` (or failed: rtt_ms < 0, `reason`)
  go_away,       // the peer opens no more streams
};

struct p2p_event {
  p2p_event_kind kind = p2p_event_kind::stream_data;
  std::uint32_t stream_id = 0;
  std::string protocol;
  bool inbound = false;
  bytes data;
  peer_id peer;
  std::optional<identify_info> identify;
  std::int64_t rtt_ms = 0;
  std::string reason;
};

class p2p_connection {
 public:
  // Bytes write() accepts on our stream before its protocol is negotiated.
  static constexpr std::size_t max_pending_write = 256 * 1024;

  // `identity` and `e` must outlive the connection.
  static p2p_connection dialer(const keypair& identity, env& e, std::optional<peer_id> expected_remote,
                               p2p_config config = {});
  static p2p_connection listener(const keypair& identity, env& e, p2p_config config = {});
  // The same with Noise sessions from `sessions` (e.g. a transport_host's);
  // `self` is announced in identify; `e` (ping payloads, clock) must outlive the connection.
  static p2p_connection dialer(session_factory sessions, const public_key& self, env& e,
                               std::optional<peer_id> expected_remote, p2p_config config = {});
  static p2p_connection listener(session_factory sessions, const public_key& self, env& e, p2p_config config = {});

  result<void> on_data(bytes_view in);
  bytes take_output();
  bool has_output() const noexcept { return !raw_out_.empty() || (noise_ && noise_->has_output()); }
  std::optional<p2p_event> next_event();

  // Opens a stream and proposes `protocols` in order; stream_opened (or
  // stream_reset if the peer refuses all) follows. not_running before
  // established().
  result<std::uint32_t> open_stream(std::vector<std::string> protocols);
  // Bytes taken (possibly fewer than offered; wait for `writable`).
  result<std::size_t> write(std::uint32_t stream_id, bytes_view data);
  result<void> close_stream(std::uint32_t stream_id);
  result<void> reset_stream(std::uint32_t stream_id);
  // With config.yamux.window_update_on_delivery = false the peer's send
  // window on our app streams is only replenished for bytes the application
  // reports here (stream_data it has passed on): that is how a relay holds
  // back a fast sender. Built-in and negotiation bytes are consumed
  // internally. A no-op in the default mode.
  void consumed(std::uint32_t stream_id, std::size_t n);
  // /ipfs/ping/1.0.0 with 32 random bytes; a pong event follows.
  result<void> ping();
  // /ipfs/id/1.0.0; an identified event follows.
  result<void> request_identify();
  // yamux GoAway: no new streams either way; existing ones go on.
  result<void> close();

  bool established() const noexcept { return phase_ == phase::muxed; }
  bool failed() const noexcept { return error_.has_value(); }
  const std::optional<error>& failure() const noexcept { return error_; }
  const peer_id& remote_peer() const noexcept { return remote_; }
  bool is_dialer() const noexcept { return dialer_; }
  // The last identify answer received from the peer.
  const std::optional<identify_info>& remote_identify() const noexcept { return remote_identify_; }
  std::size_t stream_count() const noexcept { return streams_.size(); }
  // Our identify answer (public key, listen addresses, observed address, protocols).
  identify_info own_identify() const;

 private:
  enum class phase : std::uint8_t { security_select, muxer_select, muxed };
  enum class handler : std::uint8_t { negotiating, app, ping_in, ping_out, id_in, id_out, push_in };
  struct stream {
    bool inbound = false;
    handler h = handler::negotiating;
    handler wanted = handler::app; // for our streams: what runs after negotiation
    std::optional<multistream_listener> ms_listener;
    std::optional<multistream_dialer> ms_dialer;
    bytes buf;                  // built-in input, or app bytes written before negotiation
    bool close_pending = false; // close_stream() before negotiation
    bytes ping_payload;
    std::int64_t ping_sent_ms = 0;
  };

  p2p_connection(bool dialer, session_factory sessions, const public_key& self, env& e,
                 std::optional<peer_id> expected, p2p_config config);

  // Upgrade (p2p_connection.cpp).
  result<void> start_noise(bytes leftover);
  result<void> pump_plaintext();
  result<void> on_muxer_bytes(bytes_view in);
  result<void> flush_yamux();
  error fail(error e);

  // Streams (p2p_streams.cpp).
  void handle_yamux_event(yamux_event& ev);
  void on_stream_data(std::uint32_t id, stream& s, bytes data);
  void on_negotiated(std::uint32_t id, stream& s, const std::string& protocol, bytes leftover);
  void on_builtin_data(std::uint32_t id, stream& s);
  void on_peer_fin(std::uint32_t id, stream& s);
  void send_on(std::uint32_t id, bytes_view data);
  void drop_stream(std::uint32_t id, std::string reason, bool tell_app);
  result<std::uint32_t> open_internal(std::vector<std::string> protocols, handler wanted);
  std::vector<std::string> supported() const;
  void emit(p2p_event ev) { events_.push_back(std::move(ev)); }
  // Window credit for bytes that never reach the application (manual mode only).
  void auto_consume(std::uint32_t id, std::size_t n);

  bool dialer_;
  public_key own_key_;
  session_factory sessions_;
  env* env_;
  std::optional<peer_id> expected_;
  p2p_config config_;
  phase phase_ = phase::security_select;
  std::optional<multistream_dialer> ms_dialer_;     // the current connection-level negotiation
  std::optional<multistream_listener> ms_listener_;
  std::optional<session_stream> noise_;
  std::optional<yamux_session> yamux_;
  peer_id remote_;
  std::map<std::uint32_t, stream> streams_;
  std::optional<identify_info> remote_identify_;
  std::deque<p2p_event> events_;
  bytes raw_out_;
  std::optional<error> error_;
};

} // namespace aqua::p2p
