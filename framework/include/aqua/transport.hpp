#pragma once
// The transport plugin interface (ABI version `transport_abi_version`).
//
// A transport moves opaque frames between nodes. Every frame it carries is
// already an end-to-end encrypted aqua envelope. Transports that cross a
// network also authenticate the peer at connect time with the node's
// identity: the node hands them a transport_host whose secure sessions run
// the Noise XX handshake of docs/protocol/noise.md (the Ed25519 identity
// signs the Noise static key), so a plugin never sees the secret key.
// Semantics every transport must provide:
//   * per-connection FIFO ordering, frames delivered whole;
//   * bounded buffering: send() returns errc::would_block when the peer's
//     queue is full, and the observer's on_writable() fires once there is
//     room again (no unbounded memory growth);
//   * close() is seen by the other side as on_closed(); frames sent before
//     the close remain readable via try_receive().
// Observer callbacks may run on any thread (including inside send()/close()
// of the same connection or of the other side) and must not block or call
// back into the transport.
//
// Bump transport_abi_version whenever anything in this header changes
// layout or meaning; the loader refuses plugins built against another one.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aqua/bytes.hpp"
#include "aqua/config.hpp"
#include "aqua/error.hpp"

namespace aqua {

// 2: transport_host, secure_session, remote_peer(); 3: store-and-forward (deposit, deliver_held);
// 4: deliver_held takes the depositor the mailbox reports; 5: publish_card, lookup_card (card directory),
// card_addresses
inline constexpr std::uint32_t transport_abi_version = 5;

// One Noise XX session (Noise_XX_25519_ChaChaPoly_SHA256 with the libp2p
// handshake payload, docs/protocol/noise.md) bound to the node's identity.
// Message based: the transport moves each handshake message and each sealed
// chunk as one unit of its own framing.
class secure_session {
 public:
  static constexpr std::size_t max_message = 65535;  // one Noise message, ciphertext
  virtual ~secure_session() = default;
  // The next handshake message to send, or nullopt when it is the peer's
  // turn or the handshake is over. The initiator has message 1 at once.
  virtual result<std::optional<bytes>> handshake_output() = 0;
  // A handshake message from the peer; errc::wrong_recipient when the peer
  // proves another identity than the one expected, bad_signature, ...
  // Any error is final: the session is dead.
  virtual result<void> handshake_input(bytes_view message) = 0;
  virtual bool established() const = 0;
  // The authenticated remote identity (empty until its payload was verified).
  virtual const peer_id& remote_peer() const = 0;
  // One frame of any size as Noise messages of at most max_message bytes
  // each, in order (one for frames up to 65519 bytes).
  virtual result<std::vector<bytes>> seal(bytes_view frame) = 0;
  // One Noise message -> its plaintext; a frame is the concatenation of the
  // plaintexts of its seal() messages, opened in order.
  virtual result<bytes> open(bytes_view message) = 0;
};

// What the node offers its transports.
class transport_host {
 public:
  virtual ~transport_host() = default;
  virtual const peer_id& local_peer() const = 0;
  // A session as initiator (the dialling side; `expected` = the peer ID the
  // address names, if any) or responder.
  virtual std::unique_ptr<secure_session> new_session(bool initiator, std::optional<peer_id> expected) = 0;
  // A frame a mailbox held for us while we were unreachable (store-and-
  // forward, docs/protocol/mailbox.md). The node processes it like a frame
  // from a connection; `depositor` (empty when the mailbox did not say) is
  // the peer the mailbox says deposited it: like a connection's peer, only
  // a hint for finding the envelope's session (a frame far ahead of the
  // session's window), never trusted. `done` runs exactly once, on any thread, with ok once
  // the node has stored it durably (or already had it, or rejected it for
  // good: it must not be fetched again), or with an error when the node
  // could not take it now (the transport leaves it on the mailbox).
  virtual void deliver_held(bytes frame, const peer_id& depositor, std::function<void(result<void>)> done) {
    (void) frame;
    (void) depositor;
    done(error{errc::not_running, "this transport host takes no held frames"});
  }
};

class connection_observer {
 public:
  virtual ~connection_observer() = default;
  virtual void on_readable() = 0;
  virtual void on_writable() = 0;
  virtual void on_closed(const error& reason) = 0;
};

class connection {
 public:
  virtual ~connection() = default;
  virtual std::string local_address() const = 0;
  virtual std::string remote_address() const = 0;
  // Set once, before frames are expected; frames already queued trigger on_readable().
  virtual void set_observer(std::shared_ptr<connection_observer> observer) = 0;
  // Copies the frame into the transport. errc::would_block (retry after
  // on_writable), connection_closed, frame_too_large.
  virtual result<void> send(bytes_view frame) = 0;
  virtual std::optional<bytes> try_receive() = 0;
  virtual void close() = 0;
  virtual bool is_open() const = 0;
  // The peer authenticated at connect time, or empty for transports that do
  // not authenticate (loopback: same process) or before the handshake ended.
  virtual peer_id remote_peer() const { return {}; }
};

class transport_observer {
 public:
  virtual ~transport_observer() = default;
  virtual void on_incoming(std::shared_ptr<connection> conn) = 0;
};

class transport {
 public:
  virtual ~transport() = default;
  virtual std::string plugin_name() const = 0;
  // Must be called once before listen(); incoming connections go to
  // `observer`; `host` provides the node's identity for authentication.
  virtual void start(std::shared_ptr<transport_observer> observer, std::shared_ptr<transport_host> host) = 0;
  // Returns the address actually bound (e.g. with a chosen port).
  virtual result<std::string> listen(const std::string& address) = 0;
  virtual result<std::shared_ptr<connection>> dial(const std::string& address) = 0;
  virtual std::vector<std::string> listen_addresses() const = 0;
  // Closes listeners and every connection; idempotent.
  virtual void stop() = 0;
  // What the transport reports about itself for `aqua status` / `aqua
  // doctor`, as ordered key/value pairs (e.g. relay_v2: each relay's
  // reservation state and the address it observes for us).
  virtual std::vector<std::pair<std::string, std::string>> diagnostics() const { return {}; }
  // Store-and-forward (docs/protocol/mailbox.md): asks the mailbox behind
  // `address` (for relay_v2: a circuit address /.../p2p/RELAY/p2p-circuit/
  // p2p/RECIPIENT) to hold `frame` for the recipient for at most `ttl_s`
  // seconds. `done` runs exactly once, on any thread: ok once the mailbox
  // stored it durably; errc::not_supported when this transport or address
  // has no mailbox. Depositing the same frame twice stores it once.
  virtual void deposit(const std::string& address, bytes_view frame, std::uint32_t ttl_s,
                       std::function<void(result<void>)> done) {
    (void) address, (void) frame, (void) ttl_s;
    done(error{errc::not_supported, plugin_name() + ": no mailbox (store-and-forward) on this transport"});
  }
  // Addresses for the node's card besides those listen() returned (relay_v2:
  // a circuit address through every relay it reserves on, reserved yet or
  // not, where listen("/p2p-circuit") returned the first one).
  virtual std::vector<std::string> card_addresses() const { return {}; }
  // Card directory (docs/protocol/card-directory.md): `card` is the node's
  // encoded signed card (docs/protocol/cards.md); a transport that can,
  // offers it where peers may look it up (relay_v2: on every relay it
  // reserves on). Called again whenever the card changes.
  virtual void publish_card(bytes card) { (void) card; }
  // Looks up `peer`'s card where this transport can (relay_v2: its relays).
  // `done` runs exactly once, on any thread, with the encoded card as found
  // (the node verifies it: signature, validity, that it is `peer`'s), or
  // errc::not_found, or not_supported when this transport has no directory.
  virtual void lookup_card(const peer_id& peer, std::function<void(result<bytes>)> done) {
    (void) peer;
    done(error{errc::not_supported, plugin_name() + ": no card directory on this transport"});
  }
};

// For plugin factories: `value` of setting `key` as an integer in [min, max],
// or errc::config_bad_value naming the setting.
result<std::uint64_t> parse_setting(const std::string& key, const std::string& value, std::uint64_t min,
                                    std::uint64_t max);

// Signature of the factory every transport plugin exports.
using transport_factory_fn = result<std::unique_ptr<transport>>(const transport_config&);

} // namespace aqua
