// Hex and base58btc codecs. Both are bounds-checked and reject any
// character outside their alphabet with the offending position.

#include <sodium.h>

#include <array>

#include "aqua/bytes.hpp"

namespace aqua {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";
constexpr char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::size_t max_base58_input = 4096;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::array<int, 256> make_b58_table() {
  std::array<int, 256> table{};
  table.fill(-1);
  for (int i = 0; i < 58; ++i) table[static_cast<unsigned char>(b58_alphabet[i])] = i;
  return table;
}

} // namespace

std::string to_hex(bytes_view data) {
  std::string out;
  out.reserve(data.size() * 2);
  for (auto b : data) {
    out.push_back(hex_digits[b >> 4]);
    out.push_back(hex_digits[b & 0x0f]);
  }
  return out;
}

result<bytes> from_hex(std::string_view text) {
  if (text.size() % 2 != 0)
    return error{errc::invalid_argument, "hex string has odd length " + std::to_string(text.size())};
  bytes out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(text[2 * i]);
    int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return error{errc::invalid_argument,
                   "invalid hex character at position " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1)};
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return out;
}

std::string base58_encode(bytes_view data) {
  std::size_t zeros = 0;
  while (zeros < data.size() && data[zeros] == 0) ++zeros;
  // log(256)/log(58) ~ 1.366
  std::vector<std::uint8_t> digits((data.size() - zeros) * 138 / 100 + 1, 0);
  std::size_t length = 0;
  for (std::size_t i = zeros; i < data.size(); ++i) {
    unsigned carry = data[i];
    std::size_t j = 0;
    for (auto it = digits.rbegin(); (carry != 0 || j < length) && it != digits.rend(); ++it, ++j) {
      carry += 256u * *it;
      *it = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    length = j;
  }
  auto it = digits.begin() + static_cast<std::ptrdiff_t>(digits.size() - length);
  std::string out(zeros, '1');
  for (; it != digits.end(); ++it) out.push_back(b58_alphabet[*it]);
  return out;
}

result<bytes> base58_decode(std::string_view text) {
  static const auto table = make_b58_table();
  if (text.empty()) return error{errc::bad_base58, "empty base58 string"};
  if (text.size() > max_base58_input)
    return error{errc::bad_base58, "base58 string longer than " + std::to_string(max_base58_input)};
  std::size_t zeros = 0;
  while (zeros < text.size() && text[zeros] == '1') ++zeros;
  // log(58)/log(256) ~ 0.733
  std::vector<std::uint8_t> b256((text.size() - zeros) * 733 / 1000 + 1, 0);
  std::size_t length = 0;
  for (std::size_t i = zeros; i < text.size(); ++i) {
    int value = table[static_cast<unsigned char>(text[i])];
    if (value < 0)
      return error{errc::bad_base58, "invalid base58 character '" + std::string(1, text[i]) +
                                         "' at position " + std::to_string(i)};
    unsigned carry = static_cast<unsigned>(value);
    std::size_t j = 0;
    for (auto it = b256.rbegin(); (carry != 0 || j < length) && it != b256.rend(); ++it, ++j) {
      carry += 58u * *it;
      *it = static_cast<std::uint8_t>(carry % 256);
      carry /= 256;
    }
    length = j;
  }
  bytes out(zeros, 0);
  out.insert(out.end(), b256.end() - static_cast<std::ptrdiff_t>(length), b256.end());
  return out;
}

bool equal_ct(bytes_view a, bytes_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace aqua
