#pragma once
// A running aqua node: one caf::actor_system with the identity, crypto,
// routing, relay and mailbox actors spawned and wired as its YAML config
// says, and its transports loaded as plugins. This facade keeps CAF out of
// users' translation units; every call is thread-safe.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aqua/bytes.hpp"
#include "aqua/config.hpp"
#include "aqua/error.hpp"
#include "aqua/identity.hpp"

namespace aqua {

struct inbound_message {
  std::uint64_t sequence = 0;  // per-node arrival order, starting at 1
  peer_id sender;              // authenticated by the end-to-end session
  std::string message_id;      // 32 hex digits, chosen by the sender
  bytes payload;
  std::string transport;       // name of the transport it arrived on
  std::string trust;           // sender's trust state: verified | unverified | unknown
  bool quarantined = false;    // from a sender not in the contact book (crypto.unknown_senders: quarantine)
  std::int64_t received_unix_ms = 0;
  std::string topic;           // set by the sender (send_options::topic), may be empty
  bool read = false;           // acknowledged by the application (read/receive/ack)
};

struct outbound_message {
  std::string message_id;
  peer_id recipient;
  std::string state;  // queued | sent | delivered | expired
  std::uint32_t attempts = 0;
  std::int64_t created_unix_ms = 0;
  std::int64_t expires_unix_ms = 0;
  std::int64_t delivered_unix_ms = 0;
  // Why its last attempt failed — no path, every relay mailbox refused it
  // ("mailbox ...: quota_exceeded: ...") — or why it was given up; empty when
  // not attempted yet or the last attempt got through (always when
  // delivered). Stored with the message: it outlives a restart and stays on
  // an expired message. At most 4,096 bytes.
  std::string last_error;
};

// The circuit relay v2 server of a node with relay.serve (docs/relay.md).
struct relay_server_status {
  bool serving = false;
  std::vector<std::string> addresses;  // /ip4/A/tcp/P/p2p/<relay>: what clients put in relay_v2 relays
  std::size_t connections = 0;         // peers connected to the relay server
  std::size_t reservations = 0;        // active now
  std::size_t circuits = 0;            // open now
  std::uint64_t reservations_granted = 0;
  std::uint64_t reservations_refused = 0;
  std::uint64_t connects_granted = 0;
  std::uint64_t connects_refused = 0;
  std::uint64_t bytes_relayed = 0;     // ciphertext spliced between peers, both directions
  std::uint64_t hop_refused = 0;       // HOP requests answered with an error status
  std::uint64_t circuits_limited = 0;  // reset at the data or duration limit
  std::uint64_t service_streams = 0;   // streams of extra protocols (e.g. /aqua/mailbox/1.0.0)
  // The relay's mailbox for offline peers (relay.mailbox, docs/relay.md): what it holds now, and counters since
  // the node started.
  bool mailbox = false;
  std::uint64_t mail_held = 0;        // envelopes held now
  std::uint64_t mail_held_bytes = 0;  // their size
  std::uint64_t mail_recipients = 0;  // peers with mail held
  std::uint64_t mail_stored = 0;      // deposits stored
  std::uint64_t mail_duplicates = 0;  // deposits of an envelope already held
  std::uint64_t mail_refused = 0;     // deposits refused: quota, disk nearly full, too large, not an envelope, expired
  std::uint64_t mail_delivered = 0;   // fetched and acknowledged by their recipient
  std::uint64_t mail_expired = 0;     // dropped at their expiry
  // The card directory served with the mailbox (docs/protocol/card-directory.md): signed cards held now.
  std::uint64_t cards_held = 0;
};

struct node_status {
  peer_id id;
  std::vector<std::string> listen_addresses;
  std::size_t connections = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t frames_received = 0;    // envelopes for us that arrived on a connection
  std::uint64_t messages_received = 0;  // new messages stored in the inbox (duplicates and acks excluded)
  std::uint64_t frames_rejected = 0;
  std::uint64_t frames_forwarded = 0;
  std::uint64_t outbox_pending = 0;  // queued or sent, not yet acknowledged
  std::uint64_t inbox_unread = 0;    // stored messages the application has not read yet
  std::uint64_t frames_waiting = 0;       // frames routing holds until a transport takes them
  std::uint64_t connections_blocked = 0;  // connections whose transport queue is full
  relay_server_status relay;              // serving = false unless relay.serve
  std::uint64_t frames_deposited = 0;     // envelopes left on relay mailboxes for offline peers
  // Per transport: name and what it reports about itself (relay_v2: each
  // relay, its reservation, the address the relay observes for us).
  struct transport_report {
    std::string name;
    std::vector<std::string> listen_addresses;
    std::vector<std::pair<std::string, std::string>> details;
  };
  std::vector<transport_report> transports;
  std::string store_failure;  // the first failed store write (node::store_failure); empty while healthy
};

// How routing reaches a peer (`aqua doctor PEER`, docs/routing.md).
struct path_diagnosis {
  peer_id peer;
  // An open connection on which the peer has not left a frame of ours
  // unanswered for the suspect time (3 s, docs/routing.md); in-process
  // (loopback) connections count while they are open.
  bool connected = false;
  std::string connection;    // "<transport> <remote address>" of the peer's connection, open or silent
  std::int64_t heard_ms_ago = -1;   // since the peer last sent a frame on it (-1: never, or no connection)
  std::int64_t unanswered_ms = 0;   // how long the oldest frame we sent since then has waited (0: none)
  std::string decision;      // what routing would do now, and why
  std::string last_path;     // direct | relayed | mailbox, or empty
  std::string last_address;
  struct address {
    std::string address;
    std::string kind;        // direct | relayed (a relayed address's relay also offers the mailbox)
    std::uint32_t failures = 0;
    std::int64_t retry_in_ms = 0;  // skipped for this long after failures
    std::string last_error;
  };
  std::vector<address> addresses;
};

// A contact: another peer's verified card with an alias and a trust state,
// kept in the node's store (docs/storage.md, c/ records).
struct contact_info {
  peer_id id;
  std::string alias;                   // may be empty
  std::string trust;                   // unverified | verified | blocked
  std::int64_t added_unix_ms = 0;
  std::string card;                    // "aqua-card-v1:..."
  std::vector<std::string> addresses;  // advertised in the card
  std::int64_t card_expires_unix_ms = 0;
};

struct send_options {
  // How long to wait for the message to become durable in the outbox.
  std::chrono::milliseconds timeout = std::chrono::seconds(5);
  std::uint64_t ttl_ms = 0;   // 0 = the config's crypto.default_ttl_s
  std::string message_id;     // 32 hex digits to make the call idempotent, or empty
  std::string topic;          // up to 255 bytes, travels encrypted with the payload
};

// A send in flight (node::send_async); copies share its outcome.
class send_ticket {
 public:
  send_ticket() = default;  // empty: wait() says invalid_argument
  // The message id once the message is durably queued, or why it was not;
  // errc::timeout if neither happened within `timeout` (the send may still
  // complete: wait again, or retry with the same message_id). Callable again.
  result<std::string> wait(std::chrono::milliseconds timeout) const;
  bool ready() const;  // wait() would return at once

 private:
  friend class node;
  struct state;
  explicit send_ticket(std::shared_ptr<state> s) : s_(std::move(s)) {}
  std::shared_ptr<state> s_;
};

namespace node_detail {
struct starter;  // private: starts a node in an actor system shared with others (the agent host's)
}

class node {
 public:
  // Validates the identity and every plugin before spawning anything: a bad
  // config or missing plugin never leaves a half-started node behind.
  static result<std::unique_ptr<node>> start(const node_config& cfg);
  // Stop or destroy every node before main() returns: the actor framework
  // under it keeps static state that is gone during static destruction (a
  // node held in a static object and destroyed at exit crashes there).
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  const peer_id& id() const;
  const node_config& config() const;
  std::vector<std::string> listen_addresses() const;
  // Our contact card ("aqua-card-v1:..."), signed by the identity actor at
  // start, advertising the listen addresses. Others add it as a contact.
  // The node renews it once half its validity has passed (checked hourly),
  // so a copy may be older than what this returns now (docs/protocol/cards.md).
  std::string card() const;
  // Re-signs our card now with the addresses the transports list now,
  // rotating the signed prekey when due (docs/protocol/cards.md, "Renewal"), or
  // with `new_signed_prekey` now (conflict while a card of ours that names
  // the previous one may still be in use), and offers it where peers look
  // cards up (relay_v2: the relays' card directories). card() returns it
  // from now on.
  struct card_renewal {
    std::string card;
    bool signed_prekey_rotated = false;
  };
  result<card_renewal> renew_card(bool new_signed_prekey = false);
  // A card signed now with our keys, advertising `addresses` and
  // `capabilities` (checked as a card's fields are: invalid_argument), valid
  // for `validity`: for handing out a card other than card() while the node
  // runs (`aqua card export --capability ...`). card() does not change.
  result<std::string> sign_card(const std::vector<std::string>& addresses,
                                const std::vector<std::string>& capabilities, std::chrono::milliseconds validity);

  // Encrypts `payload` end to end for `to` (a contact, or a peer with a
  // session) and queues the envelope durably; returns the message id.
  // errc::unknown_session without card or session, sender_blocked for a
  // blocked contact, store errors when it cannot be made durable.
  // Returns once the message is durably queued (the outbox retries it until
  // the recipient's authenticated ack arrives or `ttl_ms` passes; 0 = the
  // config's crypto.default_ttl_s). See outbox() for delivery states.
  // `message_id` (32 hex digits) makes the call idempotent: an id already
  // queued is not sent again, so an application can retry after a crash.
  // A repeat must name the same recipient (else invalid_argument) and carry
  // the same payload and topic (else conflict: it would be a new message).
  result<std::string> send(const peer_id& to, bytes payload,
                           std::chrono::milliseconds timeout = std::chrono::seconds(5), std::uint64_t ttl_ms = 0,
                           const std::string& message_id = {});
  result<std::string> send(const peer_id& to, bytes payload, const send_options& options);
  // send() without waiting: one thread can keep many messages in flight and
  // collect each outcome later (`options.timeout` is not used: pass it to
  // wait). Sends to one peer keep their order, as from one thread with send().
  send_ticket send_async(const peer_id& to, bytes payload, const send_options& options = {});
  // Waits up to `timeout` until message `message_id` is delivered (the
  // recipient's authenticated ack arrived) or expired, and returns its
  // record; errc::timeout while it is still in flight, not_found if unknown.
  result<outbound_message> await_outcome(const std::string& message_id, std::chrono::milliseconds timeout);
  result<std::vector<outbound_message>> outbox();
  // One page of outbox(): at most `max` records with a message ID above
  // `after` ("" = from the start), in message ID order.
  result<std::vector<outbound_message>> outbox(const std::string& after, std::size_t max);
  // Next unread message (marked read as it is returned), waiting up to `timeout`.
  result<inbound_message> receive(std::chrono::milliseconds timeout);
  // Message `sequence`, marked read (the application's ack); not_found if absent.
  result<inbound_message> read(std::uint64_t sequence);
  // Marks message `sequence` unread again, so the next receive() hands it out
  // (in sequence order): for a message received but not processed, e.g. one
  // whose receiver went away before it got it. not_found if absent.
  result<void> give_back(std::uint64_t sequence);
  // Deletes message `sequence` from the inbox (its id stays in the dedup index).
  result<void> remove(std::uint64_t sequence);
  // A sequence number up to which every stored message is read: the one
  // before the oldest unread message, or the newest sequence number given
  // out when none is unread (0 for a new inbox). From the mailbox's index of
  // unread messages, without reading the store: watch(read_through(), ...)
  // starts past the read history, however long it is.
  result<std::uint64_t> read_through();
  // Every message in the durable inbox.
  result<std::vector<inbound_message>> inbox();
  // Up to `max` (0 = all) stored messages with sequence > `after`, oldest
  // first, not marked read; waits up to `timeout` for the first one and
  // returns an empty list if none came. Any number of watchers see every
  // message (unlike receive(), which hands each message out once).
  result<std::vector<inbound_message>> watch(std::uint64_t after, std::size_t max, std::chrono::milliseconds timeout);
  // The same, and the list ends once its payloads hold `max_bytes` (0 = no
  // bound; the first message always comes): a stream of large messages costs
  // its watcher one bounded batch at a time.
  result<std::vector<inbound_message>> watch(std::uint64_t after, std::size_t max, std::size_t max_bytes,
                                             std::chrono::milliseconds timeout);
  result<node_status> status();
  // The first failed store write (disk full, I/O error), if any. The node is
  // then fail-stop: its store refuses every further write, so sends fail and
  // nothing more is stored or acknowledged, until it is restarted, and resumes
  // from its durable state without losing anything durable (docs/storage.md,
  // "When a write fails"). `aqua serve` exits when it sees one.
  std::optional<error> store_failure() const;
  // The path routing takes to `peer` and why (its addresses and their state).
  result<path_diagnosis> diagnose_path(const peer_id& peer);

  // Contacts. add_contact verifies the card (signature, expiry) and adds or
  // refreshes it (a newer card keeps alias and trust unless an alias is
  // given); `trust` applies to a peer not known yet (unverified | verified).
  // `who` is a peer ID or an alias. Every change is durable when it returns
  // and takes effect at once (trust checks, routing to card addresses).
  result<contact_info> add_contact(const std::string& card_text, const std::string& alias = {},
                                   const std::string& trust = "unverified");
  result<std::vector<contact_info>> contacts();
  result<contact_info> find_contact(const std::string& who);
  // When the card of contact `peer` (any trust) expires, Unix ms; nullopt
  // for no contact. Cheap, no copy (find_contact describes the whole card).
  std::optional<std::int64_t> contact_card_expiry(const peer_id& peer) const;
  // trust: unverified | verified | blocked. A blocked contact is not made
  // verified (errc::conflict): unblock it (set "unverified") first, so that
  // verifying never lifts a block by the way.
  result<contact_info> set_contact_trust(const std::string& who, const std::string& trust);
  result<peer_id> remove_contact(const std::string& who);
  // Looks `peer`'s card up where the transports can (relay_v2: the card
  // directories of its relays, docs/protocol/card-directory.md), checks it
  // (signature, validity, that it is `peer`'s) and adds it as an unverified
  // contact, or refreshes a contact's card (trust and alias kept unless an
  // alias is given). errc::not_found naming what each relay said;
  // not_supported when no transport looks cards up (no relays). send() does
  // this by itself for a peer that is no contact and has no session.
  result<contact_info> lookup_contact(const peer_id& peer, const std::string& alias = {},
                                      std::chrono::milliseconds timeout = std::chrono::seconds(15));

  // Stops every actor and transport; idempotent, also run by the destructor.
  void stop();

 private:
  friend struct node_detail::starter;
  struct impl;
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace aqua
