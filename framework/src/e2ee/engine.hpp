#pragma once
// Private, sans-I/O: the E2EE engine. Owns our prekeys and every session,
// seals payloads into envelopes and opens envelopes into verified
// (sender, payload) pairs. No sockets, no threads; clock and RNG come from
// the injected env. The crypto actor is a thin shell around one engine.

#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "core/keyed_hash.hpp"
#include "core/rate_buckets.hpp"
#include "e2ee/x3dh.hpp"

namespace aqua::e2ee {

// 2: the replay window is keyed by (message ID, sender), so one ID may stand
// in it once per sender. Version 1 (one entry per ID) is still read, and the
// meta blob (no replay window, the same bytes in both) is still written as 1.
inline constexpr std::uint8_t engine_state_version = 2;
inline constexpr std::uint8_t engine_state_version_spent = 3;  // version 2 + spent one-time prekeys
// Version 3 + the signed prekeys' card and keep times (sessions.md, "Engine state, version 4").
inline constexpr std::uint8_t engine_state_version_rotation = 4;

struct engine_limits {
  ratchet_limits ratchet;
  std::size_t max_payload = 1u << 20;
  std::uint32_t tag_window = 64;        // future sequence numbers indexed per session
  std::uint32_t max_lookahead = 8192;   // searched beyond the window for a likely sender
  std::size_t max_missing = 1000;       // out-of-order gap tracked per session
  std::size_t seen_message_ids = 65536; // replay window for (sender, message id) pairs
  std::size_t one_time_prekeys = 20;    // generated and published; replenished as they are used
  // A used one-time prekey stays usable this long for other initiators holding a copy of the card that
  // listed it (cards are valid 30 days by default); 0 deletes it on first use. At most max_spent_one_time.
  std::int64_t spent_one_time_keep_ms = 30LL * 24 * 3600 * 1000;
  std::size_t max_spent_one_time = 2000;  // 44 bytes each in the engine state (e/meta, rewritten per new session)
  // A retired signed prekey is kept this long past the expiry of the last card made with it, for messages
  // sealed from such a card shortly before it expired (their TTL runs on; a node uses crypto.default_ttl_s).
  std::int64_t retired_prekey_grace_ms = 7LL * 24 * 3600 * 1000;
  std::size_t max_sessions = 10000;     // least recently used sessions are evicted beyond this
  std::uint32_t expire_every = 1024;    // opens between sweeps of expired skipped keys
  // Budgets of the two costly steps of open() per likely sender, when the caller asks for them (open's
  // `limit_by_sender`: a live connection authenticated to that peer): responder session setups (X3DH, two to
  // six X25519 and a signature check) and lookahead searches (up to max_lookahead tag computations) a second.
  // Past a budget: quota_exceeded, nothing changed. Legitimate peers need few of either. 0: no limit.
  std::size_t session_setups_per_peer_per_s = 32;
  std::size_t searches_per_peer_per_s = 8;
};

struct opened_message {
  peer_id sender;
  std::string message_id;  // hex
  bytes payload;
  std::int64_t expires_ms = 0;
  std::optional<contact_card> sender_card;  // on a session's first (prekey) message
  bool new_session = false;
};

class engine {
 public:
  static engine create(const public_key& self, std::shared_ptr<env> e, engine_limits limits = {});

  const peer_id& self() const { return self_id_; }
  // An unsigned card for us: the caller signs card_signing_input() with the
  // identity key, stores the signature, and hands the result to set_own_card.
  // Records the card's expiry as one of the current signed prekey's (its keep time after a rotation), and the
  // first card's time as the prekey's publication.
  contact_card card_template(std::vector<std::string> addresses, std::vector<std::string> capabilities,
                             std::int64_t validity_ms);
  result<void> set_own_card(const bytes& signed_card);
  const bytes& own_card() const { return own_card_; }

  bool has_session(const peer_id& peer) const;
  // Seals `payload` for `to`. Uses the current session, or starts one from
  // `their_card` (already verified). errc::unknown_session when neither.
  result<bytes> seal(const peer_id& to, const contact_card* their_card, bytes_view payload,
                     const std::array<std::uint8_t, message_id_size>& message_id, std::int64_t expires_ms);
  // Every error is its own errc; a failed open leaves sessions unchanged
  // (the periodic skipped-key sweep aside). `admit`, when given, is asked
  // about the sender before its session is used or created (for a prekey
  // envelope, right after the identity block reveals the sender); the error
  // it returns (e.g. sender_blocked) is returned as is.
  using admit_fn = std::function<std::optional<error>(const peer_id&)>;
  // `likely_sender` (e.g. the peer a connection is bound to) lets a message
  // whose tag lies beyond the indexed window be found: that peer's sessions
  // are searched up to max_lookahead sequence numbers ahead. This heals the
  // gap that lost messages (e.g. acks to a crashed peer) leave behind.
  // `limit_by_sender`: the costly steps for this envelope (a new session, a
  // search past the window) are charged to likely_sender's budgets
  // (engine_limits); past them the open fails with quota_exceeded and may be
  // tried again later. For envelopes on a connection authenticated to that
  // peer, which could otherwise make us do that work as fast as it can send.
  result<opened_message> open(bytes_view data, const admit_fn& admit = {}, const peer_id* likely_sender = nullptr,
                              bool limit_by_sender = false);

  // Completes the ratchet sending step a receive left pending in the
  // session used to send to `peer` (ratchet::complete_send_step), ahead of
  // the next seal; false if there is none. Returns errors as seal would.
  // The node needs no call: the ack sealed right after a message is durable
  // takes the step, off the path of the application's reply. Benchmarks use
  // it to measure the crypto on that path.
  result<bool> complete_pending_step(const peer_id& peer);

  // Moves to a fresh signed prekey; the previous one stays valid for late prekey messages until the last card
  // made with it expires, plus retired_prekey_grace_ms (unknown card expiry: now + spent_one_time_keep_ms), or
  // until the next rotation, whichever comes first. The caller decides when (signed_prekey_rotation_safe), and
  // should then publish a newly signed card.
  void rotate_signed_prekey();
  // Whether a rotation now would retire no signed prekey that a valid card still names: none was retired, or
  // the previous one's keep time is over (or unknown).
  bool signed_prekey_rotation_safe(std::int64_t now_ms) const;
  // Deletes the spent one-time prekeys and the previous signed prekey whose keep time is over (seal and open do
  // it too; a node also asks hourly, so an idle node forgets them on time).
  void forget_expired_prekeys(std::int64_t now_ms) { forget_spent_prekeys(now_ms); }
  std::uint32_t signed_prekey_id() const { return prekeys_.signed_prekey_id; }
  // When the first card naming the current signed prekey was made (0: none yet).
  std::int64_t signed_prekey_published_ms() const { return prekeys_.signed_prekey_published_ms; }
  // 0 without a previous signed prekey or with no known keep time.
  std::int64_t previous_signed_prekey_until_ms() const {
    return prekeys_.previous_signed_prekey ? prekeys_.previous_signed_prekey->keep_until_ms : 0;
  }

  // Whole state in one blob (files, fuzzing, tests).
  bytes save() const;
  static result<engine> load(bytes_view data, std::shared_ptr<env> e, engine_limits limits = {});

  // Incremental persistence for a key-value store: the "meta" blob (keys,
  // prekeys, own card; the save() format without sessions and replay window)
  // and one blob per session. take_changes() returns what changed since the
  // last call, so a caller can write it in the same batch as the message
  // records it belongs to.
  struct changes {
    std::optional<bytes> meta;
    std::vector<std::pair<std::uint64_t, bytes>> sessions;
    std::vector<std::uint64_t> removed;
    bool empty() const { return !meta && sessions.empty() && removed.empty(); }
  };
  changes take_changes();
  static result<engine> load_parts(bytes_view meta, const std::vector<bytes>& sessions, std::shared_ptr<env> e,
                                   engine_limits limits = {});
  // Whether `sender` delivered message `id` (replay window). Message IDs are
  // the senders' choice: the same ID from two senders is two messages.
  bool seen(const peer_id& sender, const std::array<std::uint8_t, message_id_size>& id) const;

  std::size_t session_count() const { return sessions_.size(); }
  env& environment() { return *env_; }

 private:
  struct tag_slot {
    std::uint64_t session;
    std::uint64_t seq;
  };
  struct tag_hash {
    std::size_t operator()(const tag_bytes& t) const noexcept;
  };

  engine() = default;
  session* find_send_session(const peer_id& peer);
  void index_session(session& s);
  void unindex_session(const session& s);
  void evict_if_full();
  void mark_received(session& s, std::uint64_t seq);
  result<opened_message> open_in_session(session& s, std::uint64_t seq, const envelope& env, bool is_new);
  // A replay window entry: message ID (16) || sender's identity key (32), as encoded.
  using seen_key = std::array<std::uint8_t, message_id_size + 32>;
  static seen_key make_seen_key(const std::array<std::uint8_t, message_id_size>& id, const peer_id& sender);
  void remember_id(const seen_key& k);
  bytes save_impl(bool with_sessions) const;
  result<void> add_loaded_session(session s);
  void top_up_one_time_prekeys();
  // A one-time prekey a new session used: kept as spent (or deleted), replaced by a fresh one.
  void spend_one_time_prekey(std::uint32_t id, std::int64_t now_ms);
  // Deletes spent one-time prekeys, and the previous signed prekey, whose keep time is over.
  void forget_spent_prekeys(std::int64_t now_ms);

  std::shared_ptr<env> env_;
  engine_limits limits_;
  public_key self_key_;
  peer_id self_id_;
  local_prekeys prekeys_;
  bytes own_card_;
  std::uint64_t next_session_id_ = 1;
  std::map<std::uint64_t, session> sessions_;
  std::map<peer_id, std::uint64_t> send_session_;     // preferred session per peer
  std::map<key32, std::uint64_t> by_ephemeral_;       // X3DH ephemeral -> session
  std::unordered_map<tag_bytes, tag_slot, tag_hash> tags_;
  std::deque<seen_key> seen_order_;
  // Message IDs are the sender's choice: a keyed hash (core/keyed_hash.hpp).
  std::unordered_set<seen_key, detail::keyed_hasher> seen_;
  bool meta_dirty_ = true;
  std::set<std::uint64_t> dirty_sessions_;
  std::set<std::uint64_t> removed_sessions_;
  std::deque<tag_bytes> consumed_order_;
  std::unordered_map<tag_bytes, peer_id, tag_hash> consumed_;  // consumed tag -> its session's peer
  std::uint32_t opens_since_expiry_ = 0;
  // Earliest keep_until_ms among spent one-time prekeys and the previous signed prekey (0: none).
  std::int64_t next_spent_expiry_ms_ = 0;
  void note_keep_until(std::int64_t until_ms) {
    if (until_ms > 0 && (next_spent_expiry_ms_ == 0 || until_ms < next_spent_expiry_ms_)) next_spent_expiry_ms_ = until_ms;
  }
  // The budgets of open()'s limit_by_sender, per peer ID text (not saved: they start full after a load).
  rate_buckets<std::string> session_setups_{0}, searches_{0};
  void set_limits(const engine_limits& limits);
};

} // namespace aqua::e2ee
