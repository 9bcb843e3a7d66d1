#include "core/codec.hpp"

#include <algorithm>

namespace aqua::codec {

void put_u16(bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_u32(bytes& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
void put_u64(bytes& out, std::uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
void put_bytes(bytes& out, bytes_view b) { out.insert(out.end(), b.begin(), b.end()); }

bool reader::u8(std::uint8_t& v) {
  if (left() < 1) return false;
  v = d_[pos_++];
  return true;
}
bool reader::u16(std::uint16_t& v) {
  if (left() < 2) return false;
  v = static_cast<std::uint16_t>((d_[pos_] << 8) | d_[pos_ + 1]);
  pos_ += 2;
  return true;
}
bool reader::u32(std::uint32_t& v) {
  if (left() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | d_[pos_++];
  return true;
}
bool reader::u64(std::uint64_t& v) {
  if (left() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d_[pos_++];
  return true;
}
bool reader::take(std::size_t n, bytes_view& out) {
  if (left() < n) return false;
  out = d_.subspan(pos_, n);
  pos_ += n;
  return true;
}
bool reader::key(std::array<std::uint8_t, 32>& k) {
  bytes_view v;
  if (!take(32, v)) return false;
  std::copy(v.begin(), v.end(), k.begin());
  return true;
}

void put_str(bytes& out, const std::string& s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  put_bytes(out, as_bytes(s));
}

bool reader::str(std::string& s, std::size_t max) {
  std::uint16_t n = 0;
  bytes_view v;
  if (!u16(n) || n > max || !take(n, v)) return false;
  s.assign(v.begin(), v.end());
  return true;
}

} // namespace aqua::codec
