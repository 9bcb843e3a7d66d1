#include "p2p/protobuf.hpp"

namespace aqua::pb {

void put_varint(bytes& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

void put_varint_field(bytes& out, std::uint32_t field, std::uint64_t v) {
  put_varint(out, (std::uint64_t{field} << 3) | static_cast<std::uint8_t>(wire::varint));
  put_varint(out, v);
}

void put_bytes_field(bytes& out, std::uint32_t field, bytes_view b) {
  put_varint(out, (std::uint64_t{field} << 3) | static_cast<std::uint8_t>(wire::len));
  put_varint(out, b.size());
  out.insert(out.end(), b.begin(), b.end());
}

void put_string_field(bytes& out, std::uint32_t field, std::string_view s) {
  put_bytes_field(out, field, bytes_view(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

std::optional<varint_result> read_varint(bytes_view in, std::size_t max_bytes) {
  std::uint64_t v = 0;
  const std::size_t limit = max_bytes < 10 ? max_bytes : 10;
  for (std::size_t i = 0; i < in.size() && i < limit; ++i) {
    const std::uint8_t b = in[i];
    if (i == 9 && b > 1) return std::nullopt; // would overflow 64 bits
    v |= std::uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) return varint_result{v, i + 1};
  }
  return std::nullopt;
}

bool reader::next(field& f) {
  if (failed_ || pos_ >= in_.size()) return false;
  auto tag = read_varint(in_.subspan(pos_));
  if (!tag || (tag->value >> 3) == 0 || (tag->value >> 3) > 0x1fffffff) {
    failed_ = true;
    return false;
  }
  pos_ += tag->length;
  f.number = static_cast<std::uint32_t>(tag->value >> 3);
  f.value = 0;
  f.data = {};
  switch (tag->value & 7) {
    case 0: {
      auto v = read_varint(in_.subspan(pos_));
      if (!v) break;
      pos_ += v->length;
      f.type = wire::varint;
      f.value = v->value;
      return true;
    }
    case 1:
    case 5: {
      const std::size_t n = (tag->value & 7) == 1 ? 8 : 4;
      if (in_.size() - pos_ < n) break;
      for (std::size_t i = 0; i < n; ++i) f.value |= std::uint64_t{in_[pos_ + i]} << (8 * i);
      pos_ += n;
      f.type = n == 8 ? wire::fixed64 : wire::fixed32;
      return true;
    }
    case 2: {
      auto len = read_varint(in_.subspan(pos_));
      if (!len) break;
      pos_ += len->length;
      if (len->value > in_.size() - pos_) break;
      f.type = wire::len;
      f.data = in_.subspan(pos_, static_cast<std::size_t>(len->value));
      pos_ += static_cast<std::size_t>(len->value);
      return true;
    }
    default:
      break;
  }
  failed_ = true;
  return false;
}

} // namespace aqua::pb
