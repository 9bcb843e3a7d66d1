#pragma once
// Private: the record encodings of held_mail under m/ (docs/storage.md,
// "Held mail"). Used by held_mail.cpp only.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aqua/bytes.hpp"

namespace aqua::store::held_records {

extern const std::string seq_key;  // "m/seq"
// Bytes one deposit of `envelope` bytes writes, at most: the envelope, the three records' keys and fields and
// m/seq (under 600 bytes), and the log's framing (7 bytes per 32 KiB block). Counted against the free disk space
// (store/free_space.hpp).
inline constexpr std::uint64_t disk_bytes_of(std::uint64_t envelope) { return envelope + envelope / 1024 + 1024; }

std::string hex16(std::uint64_t v);
std::string mail_prefix(const std::string& recipient);
std::string mail_key(const std::string& recipient, std::uint64_t id);
std::string hash_key(const std::string& hash_hex);
std::string expiry_key(std::int64_t expires_ms, std::uint64_t id);

struct mail_record {  // m/e/<recipient>/<id>
  bytes hash;
  std::int64_t deposited_ms = 0, expires_ms = 0;
  bytes envelope;
  std::string depositor;  // peer ID text; version 1 records have none (empty)
};
struct hash_record {  // m/h/<sha-256 hex>
  std::uint64_t id = 0;
  std::int64_t expires_ms = 0;
  std::uint32_t size = 0;
  std::string recipient;
};
struct expiry_record {  // m/x/<expires>/<id>
  bytes hash;
  std::uint32_t size = 0;
  std::string recipient;
};

bytes encode_mail(const mail_record& r);
std::optional<mail_record> decode_mail(std::string_view v);
bytes encode_hash(const hash_record& r);
std::optional<hash_record> decode_hash(std::string_view v);
bytes encode_expiry(const expiry_record& r);
std::optional<expiry_record> decode_expiry(std::string_view v);
// expires_unix_ms of an aqua envelope v1 whose recipient peek_recipient accepted.
std::optional<std::int64_t> envelope_expires_ms(bytes_view env);
bytes sha256(bytes_view data);

} // namespace aqua::store::held_records
