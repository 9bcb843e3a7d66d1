#pragma once
// Private: circuit relay v2 client (docs/protocol/relay-v2.md, "Client
// behaviour") and the /aqua/msg/1.0.0 channels over relayed connections
// (docs/protocol/aqua-msg.md), on a tcp_host it owns.
//
//   relay_client rc(identity, system_env(), cfg, callbacks);
//   rc.start();                                  // connects to cfg.relays, reserves, refreshes
//   rc.addresses();                              // /ip4/R/tcp/P/p2p/RELAY/p2p-circuit/p2p/SELF once reserved
//   auto ch = rc.dial("/ip4/R/tcp/P/p2p/RELAY/p2p-circuit/p2p/PEER");
//   rc.send(*ch, frame);                          // queued until the channel opens
//   callbacks: on_channel_open / on_frame / on_remote_closed / on_channel_closed / on_writable
//   rc.deposit(circuit_addr, frame, ttl_s, done);  // network mailbox (docs/protocol/mailbox.md)
//   callbacks.on_held(frame, depositor, done): mail the relays held for us; acked to the relay after done(ok)
//   rc.publish_card(card);                        // card directory (docs/protocol/card-directory.md): on every reservation
//   rc.lookup_card(peer, done);                   // asks every relay for PEER's card
//
// A channel is one /aqua/msg/1.0.0 stream on a relayed connection: the
// dialer opens it; the listener accepts any number. Callbacks run on the
// host's loop thread and may call this object's methods (except stop()).
// Public methods may be called from any thread.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "p2p/relay_messages.hpp"
#include "p2p/tcp_host.hpp"

namespace aqua::p2p {

inline constexpr std::string_view aqua_msg_protocol_id = "/aqua/msg/1.0.0";

using channel_id = std::uint64_t;

struct relay_client_config {
  std::vector<std::string> relays;             // /ip4/A/tcp/P/p2p/RELAY
  std::size_t max_frame = 4u << 20;             // largest /aqua/msg frame sent or accepted
  std::size_t max_channel_buffer = 8u << 20;    // bytes queued per channel before would_block
  std::size_t max_channels = 256;
  std::int64_t retry_ms = 5000;                 // reconnect / re-reserve after a failure
  std::int64_t min_refresh_ms = 30000;          // refresh no sooner than this ...
  std::int64_t refresh_margin_ms = 5 * 60000;   // ... and this long before the reservation expires
  std::int64_t ping_interval_ms = 15000;        // keepalive on every connection
  std::int64_t ping_timeout_ms = 45000;         // a relay connection silent this long is dead: closed, redialled
  std::int64_t reserve_timeout_ms = 30000;      // a RESERVE without an answer by then fails (and is retried)
  std::int64_t connect_timeout_ms = 20000;      // a dialled channel not open by then fails with timeout
  bool require_voucher = false;                 // refuse reservations without a valid voucher
  // Network mailbox (relay_mailbox.cpp): fetch held mail on every reservation (needs on_held).
  bool fetch_mail = true;
  std::int64_t deposit_timeout_ms = 30000;      // a deposit without an answer by then fails with timeout
  std::size_t max_deposits = 256;               // requests (deposits, card lookups) in flight; more fail with would_block
  std::int64_t lookup_timeout_ms = 10000;       // a card LOOKUP or PUBLISH without an answer by then fails with timeout
  std::size_t max_pending_acks = 4096;          // acks waiting for a fetch stream per relay
};

struct relay_client_callbacks {
  std::function<void(const std::vector<std::string>& circuit_addrs)> on_addresses;
  std::function<void(channel_id, const peer_id& remote, bool inbound)> on_channel_open;
  std::function<void(channel_id, bytes frame)> on_frame;
  // The peer closed its write side: no more frames; we may still send, then close().
  std::function<void(channel_id)> on_remote_closed;
  // Gone (closed both ways, reset, dial failed, connection lost).
  std::function<void(channel_id, const error&)> on_channel_closed;
  std::function<void(channel_id)> on_writable;
  // An envelope a relay's mailbox held for us. Call `done` exactly once, from any thread: ok once it is
  // stored durably (or rejected for good), then the relay deletes it; an error leaves it on the relay,
  // and it is fetched again after retry_ms. `depositor`: the peer the relay says deposited it (a hint for
  // finding its session, docs/protocol/mailbox.md), empty when the relay did not say.
  std::function<void(bytes frame, const peer_id& depositor, std::function<void(result<void>)> done)> on_held;
};

struct relay_status {
  std::string relay;                 // the configured address
  bool connected = false;
  bool reserved = false;
  std::uint64_t expire_unix_s = 0;
  std::string observed_addr;         // our address as the relay sees it (identify), text
  std::string last_error;
  std::string card;                  // our card on its directory: "published", "not published: <why>", or empty
};

class relay_client {
 public:
  // `identity` must outlive the client.
  relay_client(const keypair& identity, std::shared_ptr<env> e, relay_client_config config,
               relay_client_callbacks callbacks);
  // Noise sessions from `sessions` (a transport plugin's transport_host); `self` is our public key.
  relay_client(session_factory sessions, const public_key& self, std::shared_ptr<env> e, relay_client_config config,
               relay_client_callbacks callbacks);
  ~relay_client();

  // Parses the relay addresses (bad_address) and starts connecting.
  result<void> start();
  void stop();

  // Adds a relay (as in config.relays) after start(); a known one is ok().
  result<void> add_relay(const std::string& relay_addr);
  std::vector<std::string> addresses();
  // Our circuit address through every relay (reserved or not): /ip4/R/tcp/P/p2p/RELAY/p2p-circuit/p2p/SELF.
  std::vector<std::string> circuit_addresses();
  std::vector<relay_status> status();
  // Dials `/ip4/R/tcp/P/p2p/RELAY/p2p-circuit/p2p/PEER`; the channel opens later (or closes with the reason).
  // A failure inside the call (e.g. the connection to the relay breaks as the HOP stream opens) is returned
  // here: on_channel_closed only ever reports channels that dial() returned.
  result<channel_id> dial(const std::string& circuit_addr);
  // One frame (at most max_frame). would_block above max_channel_buffer (on_writable follows).
  result<void> send(channel_id ch, bytes_view frame);
  // Half-close after the queued frames.
  result<void> close(channel_id ch);
  // Asks the mailbox of the relay in `circuit_addr` (/ip4/R/tcp/P/p2p/RELAY/p2p-circuit/p2p/PEER) to hold
  // `frame` for PEER for at most ttl_s seconds (0: the relay's maximum). done runs exactly once, on the
  // loop thread (or the caller's after stop()): ok once the relay stored it durably; not_supported (no
  // mailbox), quota_exceeded, frame_too_large, message_expired, bad_envelope, timeout, connection_closed.
  void deposit(const std::string& circuit_addr, bytes frame, std::uint32_t ttl_s,
               std::function<void(result<void>)> done);
  // Card directory (relay_cards.cpp): publishes `card` (our encoded signed card) on every relay we hold a
  // reservation on, now and on each new reservation connection; an empty card stops publishing.
  void publish_card(bytes card);
  // Asks every configured relay for `peer`'s card; done runs exactly once, on the loop thread (or the caller's
  // after stop()): the first card a relay answers that verifies as `peer`'s (signature, validity), or not_found
  // naming what each relay said, not_supported without relays.
  void lookup_card(const peer_id& peer, std::function<void(result<bytes>)> done);
  tcp_host& host() { return *host_; }
  // Whether `text` is a relay address the client can use (/ip4/A/tcp/P/p2p/ID): bad_address, or the peer ID's error.
  static result<void> check_relay_address(const std::string& text);
  // For tests: streams the client tracks (HOP, STOP, mailbox); each ends with its answer or its connection.
  std::size_t tracked_streams();

 private:
  struct relay_ep {
    std::string text, ip;
    std::uint16_t port = 0;
    peer_id id;
  };
  struct relay_state {
    relay_ep ep;
    conn_id conn = 0;
    bool connected = false, reserved = false;
    std::uint64_t expire = 0;
    std::string observed, last_error;
    timer_id timer = 0;
    conn_id card_conn = 0;         // the reservation connection our card was published on
    std::string card_state;        // relay_status::card
  };
  enum class role : std::uint8_t { hop_reserve, hop_connect, stop, channel, request, mb_fetch };  // request, mb_fetch: last
  struct stream_ctx {
    role r = role::channel;
    std::size_t relay = 0;         // hop_reserve
    channel_id ch = 0;             // hop_connect, channel; request: the request_op
    relay::delimited_reader reader;
  };
  // One request on a stream of its own to a relay (a mailbox DEPOSIT, a card PUBLISH or LOOKUP): the framed
  // request out, one delimited answer back.
  struct request_op {
    conn_id conn = 0;
    std::uint32_t stream = 0;
    std::string protocol;          // the stream's protocol
    std::string service;           // its name in errors: "mailbox", "card directory"
    std::size_t max_answer = 0;    // largest answer message
    bytes out;                     // the framed request not yet taken by the stream
    std::function<void(result<bytes>)> done;  // the answer message (without its length prefix), or why none
    timer_id timer = 0;
  };
  struct fetch_state {
    std::uint32_t stream = 0;      // 0: none open
    bool open = false;
    std::vector<std::uint64_t> acks;  // ids to acknowledge on the next open fetch stream
    std::map<std::uint64_t, std::size_t> handed;  // given to on_held, done not yet called -> envelope bytes
    std::size_t handed_bytes = 0;
    timer_id retry = 0;
  };
  // Lets on_held's done reach the loop after the client is gone (then it does nothing).
  struct mailbox_guard {
    std::mutex mu;
    tcp_host* host = nullptr;
  };
  struct channel {
    conn_id conn = 0;
    std::uint32_t stream = 0;
    bool open = false, inbound = false, close_pending = false, want_writable = false;
    bool fin_sent = false, remote_closed = false;
    peer_id peer;
    bytes in;    // partial frame
    bytes out;   // encoded frames not yet taken by the stream
  };
  using skey = std::pair<conn_id, std::uint32_t>;
  struct relay_link {
    conn_id conn = 0;
    bool established = false;  // else its waiters start in on_established
  };

  // Runs fn on the loop thread (directly when already there).
  template <class F>
  auto on_loop(F fn) -> decltype(fn()) {
    if (host_->on_loop_thread()) return fn();
    return host_->call(std::move(fn));
  }
  tcp_host_config host_config();
  tcp_host_callbacks host_callbacks();
  static result<relay_ep> parse_relay(const std::string& text);
  // Connection events and stream dispatch (relay_client.cpp).
  void on_established(conn_id c, const peer_id& peer, bool inbound);
  void on_event(conn_id c, p2p_event& ev);
  void on_closed(conn_id c, const error& e);
  void on_hop_data(skey k, stream_ctx& ctx, bytes_view data);
  // Relays and reservations (relay_reservations.cpp). At most one connection per relay: reservations, dials
  // and deposits share it (link_to), and a reconnect adopts one a dial or a deposit opened meanwhile.
  result<relay_link> link_to(const relay_ep& ep);
  void connect_relay(std::size_t i);
  void on_go_away(conn_id c);
  void on_reserved(std::size_t i, const relay::hop_message& m);
  // Drops the reservation, publishes the addresses, retries after `retry_in_ms` (-1: config_.retry_ms).
  void relay_failed(std::size_t i, const std::string& why, std::int64_t retry_in_ms = -1);
  void schedule_reserve(std::size_t i, std::int64_t delay_ms);
  void publish_addresses();
  // Our circuit address through each relay we hold a reservation on (all relays: !reserved_only).
  std::vector<std::string> addresses_locked(bool reserved_only = true) const;
  // Channels, HOP CONNECT and STOP (relay_channels.cpp).
  result<channel_id> dial_on_loop(const std::string& circuit_addr);
  void on_stop_data(skey k, stream_ctx& ctx, bytes_view data);
  result<void> open_connect(conn_id relay_conn, channel_id ch);
  void start_connect(conn_id relay_conn, channel_id ch);
  void on_hop_connect_reply(skey k, channel_id ch, const relay::hop_message& m, bytes rest);
  channel_id add_channel(conn_id c, std::uint32_t stream, bool inbound, const peer_id& peer);
  void on_channel_data(channel_id ch, bytes_view data);
  void flush_channel(channel_id ch);
  void fail_channel(channel_id ch, const error& e, bool reset);
  void finish_channel(channel_id ch);
  result<void> send_on_loop(channel_id ch, bytes_view frame);
  // Network mailbox (relay_mailbox.cpp).
  void deposit_on_loop(const std::string& addr, bytes frame, std::uint32_t ttl_s,
                       std::function<void(result<void>)> done);
  // Requests to a relay's services (relay_mailbox.cpp).
  void request(const relay_ep& ep, request_op op, std::int64_t timeout_ms);
  void start_request(conn_id relay_conn, std::uint64_t op);
  void finish_request(std::uint64_t op, result<bytes> r);
  void flush_request(std::uint64_t op);
  // Card directory (relay_cards.cpp).
  void publish_card_on(std::size_t relay);
  void start_fetch(conn_id relay_conn);
  // Opens a new fetch stream on `relay_conn` after retry_ms (once, however often it is asked).
  void retry_fetch(conn_id relay_conn);
  void flush_acks(conn_id relay_conn);
  void on_mailbox_event(skey k, stream_ctx& ctx, p2p_event& ev);
  void on_mail(skey k, bytes_view data);
  void held_done(conn_id relay_conn, std::uint64_t id, const result<void>& r);
  void mailbox_conn_up(conn_id c);
  void mailbox_conn_gone(conn_id c, const error& e);

  peer_id self_;
  std::shared_ptr<env> env_;
  relay_client_config config_;
  relay_client_callbacks cb_;
  std::unique_ptr<tcp_host> host_;
  std::vector<relay_state> relays_;
  std::map<conn_id, std::size_t> relay_conns_;                 // our reservation connections
  std::map<conn_id, std::vector<channel_id>> conn_waiters_;    // relay conn not yet established -> CONNECTs
  std::map<conn_id, channel_id> nested_waiters_;               // relayed conn not yet established -> channel
  std::map<conn_id, peer_id> dial_relays_;                     // relay connections dials or deposits opened
  std::map<conn_id, peer_id> stop_sources_;                    // relayed inbound conn -> the peer STOP named
  // Relayed connections whose relay set a data limit (bytes a direction, from the CONNECT or STOP Limit): the
  // limit and an estimate of what we sent. A frame that would pass it is refused (frame_too_large) rather than
  // sent into a circuit the relay then resets.
  struct circuit_budget {
    std::uint64_t limit = 0, sent = 0;
  };
  std::map<conn_id, circuit_budget> circuit_budgets_;
  std::map<skey, stream_ctx> streams_;
  std::map<channel_id, channel> channels_;
  std::map<skey, channel_id> channel_of_;
  channel_id next_channel_ = 1;
  std::vector<std::string> last_published_;
  std::map<std::uint64_t, request_op> requests_;
  std::map<conn_id, std::vector<std::uint64_t>> request_waiters_;  // relay conn not yet established -> requests
  std::uint64_t next_request_ = 1;
  bytes card_;                                                      // ours, published on reservations
  std::map<conn_id, fetch_state> fetches_;                          // per reservation connection
  std::shared_ptr<mailbox_guard> guard_ = std::make_shared<mailbox_guard>();
};

// uvarint(length) || frame.
bytes aqua_msg_frame(bytes_view frame);

} // namespace aqua::p2p
