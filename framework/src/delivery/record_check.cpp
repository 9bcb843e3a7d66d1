#include "delivery/record_check.hpp"

#include "delivery/outbox.hpp"
#include "delivery/records.hpp"

namespace aqua::delivery {
namespace {

template <class R>
std::optional<error> failure(const result<R>& r) {
  if (r) return std::nullopt;
  return r.err();
}

} // namespace

std::optional<error> check_record(std::string_view key, bytes_view value) {
  if (key.starts_with("o/")) return failure(out_record::decode(value));
  if (key.starts_with("i/")) return failure(in_record::decode(value));
  if (key.starts_with(dedup_prefix)) return failure(dedup_record::decode(value));
  return std::nullopt;
}

} // namespace aqua::delivery
