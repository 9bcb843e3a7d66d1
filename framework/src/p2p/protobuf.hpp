#pragma once
// Private: the small subset of protocol buffers (proto2/proto3 wire format)
// that the libp2p messages need — varints and length-delimited fields.
// Bounds-checked, allocation-free reading; no reflection, no codegen.
// Also unsigned-varint length prefixes (multistream-select, relay v2 framing).

#include <cstdint>
#include <optional>
#include <string_view>

#include "aqua/bytes.hpp"

namespace aqua::pb {

enum class wire : std::uint8_t { varint = 0, fixed64 = 1, len = 2, fixed32 = 5 };

// Appends an unsigned LEB128 varint.
void put_varint(bytes& out, std::uint64_t v);
// Field writers (tag = field << 3 | wire type).
void put_varint_field(bytes& out, std::uint32_t field, std::uint64_t v);
void put_bytes_field(bytes& out, std::uint32_t field, bytes_view b);
void put_string_field(bytes& out, std::uint32_t field, std::string_view s);

// Reads one varint of at most 10 bytes (at most `max_bytes` if smaller);
// nullopt on truncation, overlong encoding past 64 bits.
struct varint_result {
  std::uint64_t value;
  std::size_t length;
};
std::optional<varint_result> read_varint(bytes_view in, std::size_t max_bytes = 10);

// One decoded field. For wire::len, `data` views the payload inside the
// input buffer; for the numeric wire types `value` holds the number.
struct field {
  std::uint32_t number = 0;
  wire type = wire::varint;
  std::uint64_t value = 0;
  bytes_view data;
};

// Iterates the fields of one message:
//   pb::reader r(buf); pb::field f;
//   while (r.next(f)) { ... }
//   if (r.failed()) -> malformed
// Unknown field numbers are the caller's to skip (ignore); group wire types
// (3, 4), field number 0 and truncated fields set failed().
class reader {
 public:
  explicit reader(bytes_view in) : in_(in) {}
  bool next(field& f);
  bool failed() const { return failed_; }

 private:
  bytes_view in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

} // namespace aqua::pb
