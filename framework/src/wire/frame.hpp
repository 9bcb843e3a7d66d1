#pragma once
// Private, sans-I/O: the signed frame codec (wire format v0, specified in
// docs/protocol/frame.md). Plain functions over bytes: no sockets, no
// threads, no keys (signing is the identity actor's job). Every parse is
// bounds-checked and returns a precise error.

#include <array>
#include <cstdint>

#include "aqua/bytes.hpp"
#include "aqua/identity.hpp"

namespace aqua::wire {

inline constexpr std::uint8_t frame_magic0 = 'A';
inline constexpr std::uint8_t frame_magic1 = 'Q';
inline constexpr std::uint8_t frame_version = 0;
inline constexpr std::size_t message_id_size = 16;
inline constexpr std::size_t signature_size = 64;
inline constexpr std::string_view signing_context = "aqua-frame-v0";

enum class frame_type : std::uint8_t { message = 1 };

struct frame {
  frame_type type = frame_type::message;
  public_key sender;
  peer_id recipient;
  std::array<std::uint8_t, message_id_size> message_id{};
  bytes payload;
  bytes signature;  // empty until signed
};

// The bytes the signature covers: signing_context || header || payload.
bytes signing_input(const frame& f);
// Encodes a signed frame (signature must be 64 bytes).
bytes encode(const frame& f);
// Parses and bounds-checks; does not verify the signature.
// Errors: bad_frame (truncation, magic, version, type, lengths),
// frame_too_large, wrong_key_length, wrong_multihash/..., as the parts fail.
result<frame> decode(bytes_view data, std::size_t max_payload);
// decode() + signature check + recipient check.
result<frame> open(bytes_view data, std::size_t max_payload, const peer_id& self);

} // namespace aqua::wire
