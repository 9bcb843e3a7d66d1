#pragma once
// Private: big-endian writers and a bounds-checked reader shared by every
// binary codec (frames, cards, envelopes, session state).

#include <array>
#include <cstdint>
#include <string>

#include "aqua/bytes.hpp"

namespace aqua::codec {

// Little helpers for the canonical encodings (big-endian).
void put_u16(bytes& out, std::uint16_t v);
void put_u32(bytes& out, std::uint32_t v);
void put_u64(bytes& out, std::uint64_t v);
void put_bytes(bytes& out, bytes_view b);
// u16 length || bytes
void put_str(bytes& out, const std::string& s);

// Bounds-checked reader; every take fails (returns false) past the end.
class reader {
 public:
  explicit reader(bytes_view d) : d_(d) {}
  bool u8(std::uint8_t& v);
  bool u16(std::uint16_t& v);
  bool u32(std::uint32_t& v);
  bool u64(std::uint64_t& v);
  bool take(std::size_t n, bytes_view& out);
  bool key(std::array<std::uint8_t, 32>& k);
  // u16 length || bytes, at most `max` bytes
  bool str(std::string& s, std::size_t max);
  std::size_t left() const { return d_.size() - pos_; }
  std::size_t pos() const { return pos_; }

 private:
  bytes_view d_;
  std::size_t pos_ = 0;
};

} // namespace aqua::codec
