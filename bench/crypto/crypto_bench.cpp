// bench/crypto: 1 KiB messages sealed and opened through aqua's session
// layer (double ratchet + envelope + tags) vs raw
// crypto_aead_chacha20poly1305_ietf encrypt+decrypt, in the same run.
//   bench_crypto [messages=200000] [reply every N messages=64]

#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "bench_args.hpp"
#include "work_floor.hpp"

namespace {

using clk = std::chrono::steady_clock;

double seconds_since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

double raw_aead(std::size_t n, const aqua::bytes& msg) {
  unsigned char key[32], nonce[12] = {0};
  randombytes_buf(key, sizeof key);
  aqua::bytes ct(msg.size() + 16), pt(msg.size());
  unsigned long long clen = 0, plen = 0;
  auto t = clk::now();
  for (std::size_t i = 0; i < n; ++i) {
    nonce[0] = static_cast<unsigned char>(i);
    nonce[1] = static_cast<unsigned char>(i >> 8);
    nonce[2] = static_cast<unsigned char>(i >> 16);
    crypto_aead_chacha20poly1305_ietf_encrypt(ct.data(), &clen, msg.data(), msg.size(), nullptr, 0, nullptr, nonce, key);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(pt.data(), &plen, nullptr, ct.data(), clen, nullptr, 0, nonce, key) != 0) {
      std::fprintf(stderr, "raw decrypt failed\n");
      std::exit(1);
    }
  }
  return n / seconds_since(t);
}

} // namespace

int main(int argc, char** argv) {
  const aqua::bench::args a(argc, argv, "bench_crypto [messages=200000] [reply every=64]");
  a.at_most(2);
  std::size_t n = a.count(1, "messages", 200000, 1, 100000000);
  std::size_t reply_every = a.count(2, "reply every", 64, 0, 100000000);
  if (sodium_init() < 0) return 1;
  aqua::bytes msg(1024, 0x5a);
  raw_aead(n / 10 + 1, msg);  // warm-up
  double raw = raw_aead(n, msg);
  double ratchet = bench::session_seal_open_rate(n, msg, reply_every);
  double one_way = bench::session_seal_open_rate(n, msg, 0);
  std::printf("bench/crypto: %zu x 1 KiB messages, seal+open\n", n);
  std::printf("  raw crypto_aead_chacha20poly1305_ietf : %10.0f msg/s\n", raw);
  std::printf("  aqua session, one direction           : %10.0f msg/s  ratio %.3f\n", one_way, one_way / raw);
  std::printf("  aqua session, reply every %-4zu        : %10.0f msg/s  ratio %.3f (DH ratchet steps)\n", reply_every, ratchet,
              ratchet / raw);
  return 0;
}
