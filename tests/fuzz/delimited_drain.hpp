#pragma once
// Fuzz helper: runs input through relay::delimited_reader (the framing of
// relay v2 and mailbox streams), whole or in pieces of 1-7 bytes chosen by
// the input, so targets can check both give the same messages and error.

#include <vector>

#include "fuzz_target.hpp"
#include "p2p/relay_messages.hpp"

namespace aqua::fuzz {

struct drained {
  std::vector<bytes> messages;
  bool failed = false;
  bytes rest;  // unread bytes after the last message (when not failed)
};

inline drained drain_delimited(const std::uint8_t* data, std::size_t size, bool whole, std::size_t max_message) {
  drained out;
  p2p::relay::delimited_reader r(max_message);
  std::size_t pos = 0;
  while (pos < size) {
    std::size_t n = whole ? size : 1 + data[pos] % 7;
    if (n > size - pos) n = size - pos;
    r.feed(bytes_view(data + pos, n));
    pos += n;
    for (;;) {
      auto m = r.next();
      if (!m) {
        out.failed = true;
        return out;
      }
      if (!*m) break;
      AQUA_FUZZ_CHECK((*m)->size() <= max_message);
      out.messages.push_back(std::move(**m));
    }
  }
  out.rest = r.take_rest();
  return out;
}

} // namespace aqua::fuzz
