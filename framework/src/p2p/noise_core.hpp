#pragma once
// Private: the Noise Protocol Framework core (revision 34) for exactly one
// protocol, Noise_XX_25519_ChaChaPoly_SHA256: CipherState, SymmetricState and
// the XX HandshakeState, with the static and ephemeral keys, the prologue and
// the payloads supplied by the caller. Sans-I/O, no randomness of its own.
//
// Only noise_handshake / noise_transport (noise_handshake.hpp,
// noise_transport.hpp) and tests use this directly: it authenticates no
// identity (that is the libp2p payload's job) and lets the caller choose
// the ephemeral key, which is only safe for test vectors.
//
//   XX:
//     -> e
//     <- e, ee, s, es
//     -> s, se

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"

namespace aqua::p2p::noise_detail {

using key32 = std::array<std::uint8_t, 32>;

inline constexpr std::string_view protocol_name = "Noise_XX_25519_ChaChaPoly_SHA256";
// The Noise spec's limit on any message, handshake or transport.
inline constexpr std::size_t max_message_size = 65535;
inline constexpr std::size_t tag_size = 16;
inline constexpr std::size_t dh_size = 32;

// 32 secret bytes, wiped (sodium_memzero) on destruction and when moved
// from. Move-only, so secrets are never silently duplicated.
class secret32 {
 public:
  secret32() = default;
  explicit secret32(const key32& k) : v_(k) {}
  ~secret32();
  secret32(secret32&& o) noexcept;
  secret32& operator=(secret32&& o) noexcept;
  secret32(const secret32&) = delete;
  secret32& operator=(const secret32&) = delete;
  const key32& get() const noexcept { return v_; }
  key32& get() noexcept { return v_; }

 private:
  key32 v_{};
};

// Noise CipherState: ChaChaPoly (IETF ChaCha20-Poly1305) with the nonce
// 0x00000000 || little-endian u64 n. n = 2^64-1 is reserved: once n reaches
// it every call fails (crypto_failure). A failed decrypt leaves n unchanged.
class cipher_state {
 public:
  static constexpr std::uint64_t max_nonce = ~std::uint64_t{0};

  void initialize_key(const key32& k);
  bool has_key() const noexcept { return has_key_; }
  // SetNonce from the spec; tests use it to reach nonce exhaustion.
  void set_nonce(std::uint64_t n) noexcept { n_ = n; }
  std::uint64_t nonce() const noexcept { return n_; }
  // Appends ciphertext || tag (or the plaintext if there is no key) to `out`.
  result<void> encrypt_with_ad(bytes_view ad, bytes_view plain, bytes& out);
  // errc::decrypt_failed on a bad tag or a ciphertext shorter than the tag.
  result<bytes> decrypt_with_ad(bytes_view ad, bytes_view cipher);

 private:
  secret32 k_;
  bool has_key_ = false;
  std::uint64_t n_ = 0;
};

// Noise SymmetricState with SHA-256 and HKDF built from HMAC-SHA256.
class symmetric_state {
 public:
  explicit symmetric_state(std::string_view name);
  void mix_key(bytes_view input_key_material);
  void mix_hash(bytes_view data);
  // Appends to `out`.
  result<void> encrypt_and_hash(bytes_view plain, bytes& out);
  result<bytes> decrypt_and_hash(bytes_view cipher);
  // (c1, c2): c1 encrypts initiator -> responder, c2 responder -> initiator.
  std::pair<cipher_state, cipher_state> split() const;
  const key32& h() const noexcept { return h_; }
  bool has_key() const noexcept { return cs_.has_key(); }

 private:
  secret32 ck_;
  key32 h_{};
  cipher_state cs_;
};

enum class role : std::uint8_t { initiator, responder };

// The XX handshake. Message numbers below are 0-based (0: -> e, 1: <- e, ee,
// s, es, 2: -> s, se). Any failed read or write leaves the state failed:
// every later call returns the first error again (the transcript hash has
// already been mixed, so there is no way to continue safely).
class xx_state {
 public:
  xx_state(role r, const key32& static_secret, const key32& ephemeral_secret, bytes_view prologue);

  role who() const noexcept { return role_; }
  int next_message() const noexcept { return next_; }  // 0, 1, 2; 3 once complete
  bool complete() const noexcept { return next_ == 3 && !failed_; }
  bool failed() const noexcept { return failed_.has_value(); }
  bool our_turn() const noexcept;

  // The next handshake message carrying `payload` (without any framing).
  // frame_too_large if it would exceed 65535 bytes (state unchanged).
  result<bytes> write_message(bytes_view payload);
  // Processes the remote's next message and returns its payload.
  result<bytes> read_message(bytes_view message);

  const key32& local_static_public() const noexcept { return s_pub_; }
  const key32& local_ephemeral_public() const noexcept { return e_pub_; }
  // Set once received: by the initiator after message 1, by the responder after message 2.
  bool has_remote_static() const noexcept { return has_rs_; }
  const key32& remote_static() const noexcept { return rs_; }
  // The transcript hash h; final (the channel binding) once complete().
  const key32& handshake_hash() const noexcept { return ss_.h(); }
  // (send, receive) cipher states oriented for this side. Once, when complete.
  result<std::pair<cipher_state, cipher_state>> split();

 private:
  static std::size_t overhead(int message) noexcept;
  result<void> mix_dh(const key32& sec, const key32& pub, std::string_view token);
  result<void> write_tokens(bytes& out);
  result<bytes> read_tokens(bytes_view m);
  error fail(error e);
  error earlier() const;

  role role_;
  symmetric_state ss_;
  secret32 s_sec_;
  secret32 e_sec_;
  key32 s_pub_{};
  key32 e_pub_{};
  key32 rs_{};
  key32 re_{};
  bool has_rs_ = false;
  int next_ = 0;
  bool split_done_ = false;
  std::optional<error> failed_;
};

} // namespace aqua::p2p::noise_detail
