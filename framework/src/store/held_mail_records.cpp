// held_mail's record encodings (docs/storage.md, "Held mail").
#include "store/held_mail_records.hpp"

#include <sodium.h>

#include <climits>
#include <cstdio>

#include "core/codec.hpp"
#include "core/sodium.hpp"

namespace aqua::store::held_records {

namespace {
constexpr std::uint8_t record_version = 1;
constexpr std::uint8_t mail_record_version = 2;  // m/e/ records
constexpr std::size_t max_peer_text = 128;
} // namespace
const std::string seq_key = "m/seq";

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string mail_prefix(const std::string& recipient) { return "m/e/" + recipient + "/"; }
std::string mail_key(const std::string& recipient, std::uint64_t id) { return mail_prefix(recipient) + hex16(id); }
std::string hash_key(const std::string& hash_hex) { return "m/h/" + hash_hex; }
std::string expiry_key(std::int64_t expires_ms, std::uint64_t id) {
  return "m/x/" + hex16(static_cast<std::uint64_t>(expires_ms)) + "/" + hex16(id);
}



// Version 2 appends the depositor (string); version 1 (written before it was
// recorded) is still read, with no depositor.
bytes encode_mail(const mail_record& r) {
  bytes out{mail_record_version};
  codec::put_bytes(out, r.hash);
  codec::put_u64(out, static_cast<std::uint64_t>(r.deposited_ms));
  codec::put_u64(out, static_cast<std::uint64_t>(r.expires_ms));
  codec::put_u32(out, static_cast<std::uint32_t>(r.envelope.size()));
  codec::put_bytes(out, r.envelope);
  codec::put_str(out, r.depositor);
  return out;
}

std::optional<mail_record> decode_mail(std::string_view v) {
  codec::reader r(as_bytes(v));
  mail_record m;
  std::uint8_t ver = 0;
  std::uint64_t dep = 0, exp = 0;
  std::uint32_t len = 0;
  bytes_view h, e;
  if (!r.u8(ver) || (ver != record_version && ver != mail_record_version) || !r.take(32, h) || !r.u64(dep) ||
      !r.u64(exp) || !r.u32(len) || !r.take(len, e))
    return std::nullopt;
  if (ver == mail_record_version && !r.str(m.depositor, max_peer_text)) return std::nullopt;
  if (r.left() != 0) return std::nullopt;
  m.hash.assign(h.begin(), h.end());
  m.deposited_ms = static_cast<std::int64_t>(dep);
  m.expires_ms = static_cast<std::int64_t>(exp);
  m.envelope.assign(e.begin(), e.end());
  return m;
}

bytes encode_hash(const hash_record& r) {
  bytes out{record_version};
  codec::put_u64(out, r.id);
  codec::put_u64(out, static_cast<std::uint64_t>(r.expires_ms));
  codec::put_u32(out, r.size);
  codec::put_str(out, r.recipient);
  return out;
}

std::optional<hash_record> decode_hash(std::string_view v) {
  codec::reader r(as_bytes(v));
  hash_record h;
  std::uint8_t ver = 0;
  std::uint64_t exp = 0;
  if (!r.u8(ver) || ver != record_version || !r.u64(h.id) || !r.u64(exp) || !r.u32(h.size) ||
      !r.str(h.recipient, max_peer_text) || r.left() != 0)
    return std::nullopt;
  h.expires_ms = static_cast<std::int64_t>(exp);
  return h;
}

bytes encode_expiry(const expiry_record& r) {
  bytes out{record_version};
  codec::put_bytes(out, r.hash);
  codec::put_u32(out, r.size);
  codec::put_str(out, r.recipient);
  return out;
}

std::optional<expiry_record> decode_expiry(std::string_view v) {
  codec::reader r(as_bytes(v));
  expiry_record x;
  std::uint8_t ver = 0;
  bytes_view h;
  if (!r.u8(ver) || ver != record_version || !r.take(32, h) || !r.u32(x.size) || !r.str(x.recipient, max_peer_text) ||
      r.left() != 0)
    return std::nullopt;
  x.hash.assign(h.begin(), h.end());
  return x;
}

// expires_unix_ms of an aqua envelope v1: u64 at 3 + N + 16 (docs/protocol/envelope.md, "Layout").
std::optional<std::int64_t> envelope_expires_ms(bytes_view env) {
  // peek_recipient already checked version, kind and the recipient length byte.
  if (env.size() < 3 || env.size() - 3 < env[2]) return std::nullopt;
  codec::reader r(env.subspan(3 + std::size_t{env[2]}));
  bytes_view id;
  std::uint64_t expires = 0;
  if (!r.take(16, id) || !r.u64(expires) || expires > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<std::int64_t>(expires);
}

bytes sha256(bytes_view data) {
  detail::ensure_sodium();
  bytes out(crypto_hash_sha256_BYTES);
  crypto_hash_sha256(out.data(), data.data(), data.size());
  return out;
}


} // namespace aqua::store::held_records
