#pragma once
// Test helper: bytes with a valid aqua envelope v1 header (recipient,
// message ID, expiry; docs/protocol/envelope.md) and an arbitrary body, as
// a mailbox sees them (it never opens envelopes).

#include <cstdint>

#include "aqua/bytes.hpp"
#include "aqua/identity.hpp"
#include "core/codec.hpp"

namespace aqua::test {

inline bytes fake_envelope(const peer_id& recipient, std::uint8_t tag, std::int64_t expires_ms,
                           std::size_t body = 100) {
  bytes out{0x01, 0x02};
  const bytes r = recipient.to_bytes();
  out.push_back(static_cast<std::uint8_t>(r.size()));
  out.insert(out.end(), r.begin(), r.end());
  out.insert(out.end(), 16, tag);  // message ID
  codec::put_u64(out, static_cast<std::uint64_t>(expires_ms));
  codec::put_u32(out, static_cast<std::uint32_t>(body));
  out.insert(out.end(), body, tag);
  return out;
}

} // namespace aqua::test
