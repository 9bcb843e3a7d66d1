#include "store/log_scrub.hpp"

#include <array>
#include <fstream>
#include <iterator>

namespace aqua::store {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t block_size = 32768;
constexpr std::size_t header_size = 7;  // crc (4) | length (2) | type (1)
constexpr std::uint32_t mask_delta = 0xa282ead8u;
enum record_type : std::uint8_t { zero_type = 0, full = 1, first = 2, middle = 3, last = 4 };

constexpr std::array<std::uint32_t, 256> crc_table = [] {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;  // Castagnoli, reflected
    t[i] = c;
  }
  return t;
}();

std::uint32_t masked(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + mask_delta; }

std::uint32_t record_crc(std::uint8_t type, std::string_view payload) {
  const char t = static_cast<char>(type);
  return crc32c_extend(crc32c_extend(0, std::string_view(&t, 1)), payload);
}

std::uint32_t le32(std::string_view s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

} // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view data) {
  std::uint32_t l = crc ^ 0xffffffffu;
  for (unsigned char b : data) l = crc_table[(l ^ b) & 0xffu] ^ (l >> 8);
  return l ^ 0xffffffffu;
}

log_records read_log_checked(std::string_view file) {
  log_records out;
  auto& o = out.outcome;
  std::string partial;
  bool in_record = false;       // FIRST seen, LAST not yet
  std::size_t partial_bytes = 0;  // file bytes of `partial`, with their headers
  auto drop_partial = [&] {
    if (in_record) o.bytes_dropped += partial_bytes;
    in_record = false, partial.clear(), partial_bytes = 0;
  };
  std::size_t pos = 0;
  while (pos < file.size()) {
    const std::size_t block_left = block_size - pos % block_size;
    if (block_left < header_size) {  // a block's trailer: zero padding
      pos += block_left;
      continue;
    }
    const std::size_t left = file.size() - pos;
    const auto cut_short = [&] {  // the file ends inside this record: a write cut short (never acknowledged)
      o.tail_bytes += left + (in_record ? partial_bytes : 0);
      in_record = false, partial.clear(), partial_bytes = 0;
    };
    if (left < header_size) {
      cut_short();
      break;
    }
    const std::size_t length =
        static_cast<unsigned char>(file[pos + 4]) | (static_cast<std::size_t>(static_cast<unsigned char>(file[pos + 5])) << 8);
    const auto type = static_cast<std::uint8_t>(file[pos + 6]);
    if (type == zero_type && length == 0) {  // a preallocated region (LevelDB's mmap writer): nothing more in the block
      pos += block_left;
      continue;
    }
    const bool in_block = header_size + length <= block_left;  // no writer lets a record cross its block
    if (in_block && header_size + length > left) {
      cut_short();
      break;
    }
    const std::string_view payload = in_block ? file.substr(pos + header_size, length) : std::string_view();
    if (!in_block || type == zero_type || type > last || masked(record_crc(type, payload)) != le32(file, pos)) {
      // Damage: the length cannot be trusted, so the rest of the block goes, with the record it cut.
      ++o.damaged;
      o.bytes_dropped += std::min(block_left, left);
      drop_partial();
      pos += block_left;
      continue;
    }
    const std::size_t used = header_size + length;
    switch (type) {
      case full:
        drop_partial();
        out.records.emplace_back(payload);
        ++o.records_kept;
        break;
      case first:
        drop_partial();
        partial.assign(payload);
        partial_bytes = used;
        in_record = true;
        break;
      case middle:
      case last:
        if (!in_record) {  // the rest of a record whose head was lost to damage
          o.bytes_dropped += used;
          break;
        }
        partial.append(payload);
        partial_bytes += used;
        if (type == last) {
          out.records.push_back(std::move(partial));
          ++o.records_kept;
          in_record = false, partial.clear(), partial_bytes = 0;
        }
        break;
      default:
        break;
    }
    pos += used;
  }
  if (in_record) o.tail_bytes += partial_bytes;  // FIRST/MIDDLE without LAST at the end: a write cut short
  return out;
}

std::string write_log(const std::vector<std::string>& records) {
  std::string out;
  std::size_t block_offset = 0;
  for (const auto& r : records) {
    std::string_view left(r);
    bool begin = true;
    do {
      const std::size_t leftover = block_size - block_offset;
      if (leftover < header_size) {
        out.append(leftover, '\0');
        block_offset = 0;
      }
      const std::size_t avail = block_size - block_offset - header_size;
      const std::size_t n = std::min(left.size(), avail);
      const bool end = n == left.size();
      const std::uint8_t type = begin && end ? full : begin ? first : end ? last : middle;
      const auto payload = left.substr(0, n);
      const std::uint32_t crc = masked(record_crc(type, payload));
      for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xffu));
      out.push_back(static_cast<char>(n & 0xffu));
      out.push_back(static_cast<char>((n >> 8) & 0xffu));
      out.push_back(static_cast<char>(type));
      out.append(payload);
      block_offset += header_size + n;
      left.remove_prefix(n);
      begin = false;
    } while (!left.empty());
  }
  return out;
}

result<log_scrub_outcome> scrub_log(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return error{errc::io_error, "cannot read log '" + file.string() + "'"};
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return error{errc::io_error, "cannot read log '" + file.string() + "'"};
  auto read = read_log_checked(bytes);
  if (read.outcome.damaged == 0) return read.outcome;
  const auto tmp = fs::path(file.string() + ".scrubbed");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const auto text = write_log(read.records);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) return error{errc::io_error, "cannot write '" + tmp.string() + "'"};
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);  // the repair syncs every file of its work copy before it swaps it in
  if (ec) return error{errc::io_error, "cannot replace log '" + file.string() + "': " + ec.message()};
  return read.outcome;
}

} // namespace aqua::store
