#pragma once
// Private, sans-I/O: the Double Ratchet (Signal spec: X25519 DH ratchet,
// HKDF-SHA256 root chain, keyed-BLAKE2b symmetric chains, ChaCha20-Poly1305),
// as used by aqua sessions
// (docs/protocol/sessions.md). No I/O, no clock or RNG of its own: both are
// passed in. Skipped message keys are bounded and expire.

#include <map>
#include <memory>
#include <optional>

#include "e2ee/primitives.hpp"

namespace aqua::e2ee {

inline constexpr std::size_t ratchet_header_size = 32 + 4 + 4;
// Hard cap when decoding stored state; the configured max_skip applies after.
inline constexpr std::uint32_t max_stored_skipped = 100000;

struct ratchet_header {
  key32 dh{};
  std::uint32_t pn = 0;
  std::uint32_t n = 0;
  bytes encode() const;
  static std::optional<ratchet_header> decode(bytes_view b);
};

struct ratchet_limits {
  std::uint32_t max_skip = 1000;                          // skipped keys stored (oldest dropped beyond)
  std::uint32_t max_jump = 8192;                          // chain steps one message may skip (else too_many_skipped)
  std::int64_t skipped_ttl_ms = 7LL * 24 * 3600 * 1000;   // stored skipped keys expire
};

struct skipped_key {
  key32 mk{};
  std::int64_t stored_ms = 0;
};

class ratchet {
 public:
  // Initiator: knows the responder's ratchet key (its signed prekey).
  static ratchet init_initiator(const key32& shared, const key32& their_ratchet_pub, env& e);
  // Responder: its signed prekey is the first ratchet key pair.
  static ratchet init_responder(const key32& shared, const x25519_keypair& our_ratchet);

  // Derives the next sending message key; returns header + key. Completes a
  // pending sending step first (crypto_failure only if that DH fails).
  result<std::pair<ratchet_header, key32>> next_send_key();
  // A DH ratchet step on receive derives the receiving chain and the new key
  // pair at once, but leaves the sending chain's DH and KDF_RK pending until
  // the next send (or until the owner calls complete_send_step while idle):
  // one X25519 fewer on the path of a message that turns the conversation
  // round. The result is the same as the eager step of the Signal spec.
  bool send_step_pending() const { return send_step_pending_; }
  result<void> complete_send_step();
  // The message key for `h`, advancing the receiving side. Errors:
  // too_many_skipped, reused_message_key (key already consumed), crypto_failure.
  // The state only changes when `commit` is called with the returned token.
  struct pending {
    enum class kind { in_order, skipped, full } how = kind::in_order;
    key32 mk{};
    key32 ckr_after{};            // in_order: the chain key after this message
    std::unique_ptr<ratchet> next;  // full: state after skipping and/or a DH step
    std::pair<key32, std::uint32_t> skipped_slot{};
  };
  result<pending> receive_key(const ratchet_header& h, env& e) const;
  void commit(pending&& p);

  void expire_skipped(std::int64_t now_ms);
  std::size_t skipped_count() const { return skipped_.size(); }

  void encode(bytes& out) const;
  static result<ratchet> decode(codec::reader& r);

  ratchet_limits limits;

 private:
  key32 rk_{}, cks_{}, ckr_{};
  bool has_cks_ = false, has_ckr_ = false;
  bool send_step_pending_ = false;  // then CKs is absent and zero, and DHs has only its secret half
  x25519_keypair dhs_;
  key32 dhr_{};
  bool has_dhr_ = false;
  std::uint32_t ns_ = 0, nr_ = 0, pn_ = 0;
  std::map<std::pair<key32, std::uint32_t>, skipped_key> skipped_;

  result<void> skip_until(std::uint32_t until, std::int64_t now_ms);
  result<void> dh_step(const key32& their_pub, env& e);
};

// A message key is the ChaCha20-Poly1305 key of exactly one message, so the
// payload AEAD uses the all-zero nonce.
inline constexpr std::array<std::uint8_t, aead_nonce_size> message_nonce{};

} // namespace aqua::e2ee
