#pragma once
// Injectable clock and randomness (like leveldb's Env): production code uses
// system_env(); tests use a fixed clock and a seeded deterministic RNG so the
// same inputs give the same bytes.

#include <cstdint>
#include <memory>
#include <span>

namespace aqua {

class env {
 public:
  virtual ~env() = default;
  virtual std::int64_t now_unix_ms() = 0;
  virtual void random_bytes(std::span<std::uint8_t> out) = 0;
};

// Wall clock + libsodium's CSPRNG.
std::shared_ptr<env> system_env();

// A clock the test sets, and a ChaCha20 keystream RNG from a 32-byte seed
// (randombytes_buf_deterministic over seed || call counter). Not secure:
// for tests and test vectors only.
class deterministic_env : public env {
 public:
  explicit deterministic_env(std::uint8_t seed_byte, std::int64_t start_ms = 1700000000000);
  std::int64_t now_unix_ms() override { return now_ms_; }
  void random_bytes(std::span<std::uint8_t> out) override;
  void advance_ms(std::int64_t ms) { now_ms_ += ms; }
  void set_ms(std::int64_t ms) { now_ms_ = ms; }

 private:
  std::uint8_t seed_[32];
  std::uint64_t counter_ = 0;
  std::int64_t now_ms_;
};

} // namespace aqua
