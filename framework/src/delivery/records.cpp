#include "delivery/records.hpp"

#include <algorithm>

#include "core/codec.hpp"

namespace aqua::delivery {
namespace {

constexpr std::uint8_t record_version = 1;
constexpr std::uint8_t in_record_version = 2;  // 2 added the topic
constexpr std::uint8_t dedup_record_version = 2;  // 2 added the envelope's tag

error bad(const char* what, const codec::reader& r) {
  return error{errc::bad_session_state, std::string(what) + " at byte " + std::to_string(r.pos())};
}

} // namespace

bytes frame_message(bytes_view payload, const std::string& topic) {
  bytes out;
  out.reserve(payload.size() + 2 + topic.size());
  if (topic.empty()) {
    out.push_back(inner_message);
  } else {
    out.push_back(inner_topic_message);
    out.push_back(static_cast<std::uint8_t>(std::min(topic.size(), max_topic)));
    out.insert(out.end(), topic.begin(), topic.begin() + static_cast<std::ptrdiff_t>(std::min(topic.size(), max_topic)));
  }
  codec::put_bytes(out, payload);
  return out;
}

bytes frame_ack(const std::vector<std::string>& ids) {
  bytes out{inner_ack};
  codec::put_u16(out, static_cast<std::uint16_t>(ids.size()));
  for (auto& id : ids) {
    auto raw = from_hex(id);
    bytes b = raw && raw->size() == 16 ? *raw : bytes(16, 0);
    codec::put_bytes(out, b);
  }
  return out;
}

result<inner> parse_inner(bytes_view data) {
  codec::reader r(data);
  inner in;
  if (!r.u8(in.type)) return error{errc::bad_envelope, "empty inner payload"};
  if (in.type == inner_topic_message) {
    std::uint8_t n = 0;
    bytes_view t;
    if (!r.u8(n) || n == 0 || !r.take(n, t)) return error{errc::bad_envelope, "malformed topic in inner payload"};
    in.topic.assign(t.begin(), t.end());
    in.type = inner_message;
  }
  if (in.type == inner_message) {
    bytes_view v;
    r.take(r.left(), v);
    in.payload.assign(v.begin(), v.end());
    return in;
  }
  if (in.type != inner_ack) return error{errc::bad_envelope, "unknown inner payload type " + std::to_string(in.type)};
  std::uint16_t n = 0;
  if (!r.u16(n) || n > max_ack_ids || r.left() != std::size_t{n} * 16)
    return error{errc::bad_envelope, "malformed ack"};
  for (std::uint16_t i = 0; i < n; ++i) {
    bytes_view v;
    r.take(16, v);
    in.acked.push_back(to_hex(v));
  }
  return in;
}

bytes in_record::encode() const {
  bytes out{in_record_version};
  codec::put_u64(out, seq);
  codec::put_str(out, message_id);
  codec::put_str(out, sender);
  codec::put_u64(out, static_cast<std::uint64_t>(received_ms));
  out.push_back(static_cast<std::uint8_t>(state));
  codec::put_str(out, trust);
  out.push_back(quarantined ? 1 : 0);
  codec::put_str(out, transport);
  codec::put_u32(out, static_cast<std::uint32_t>(payload.size()));
  codec::put_bytes(out, payload);
  codec::put_str(out, topic);
  return out;
}

result<in_record> in_record::decode(bytes_view data) {
  codec::reader r(data);
  in_record rec;
  std::uint8_t version = 0, state = 0, q = 0;
  std::uint64_t received = 0;
  std::uint32_t n = 0;
  bytes_view v;
  if (!r.u8(version)) return bad("inbox record: empty", r);
  if (version != 1 && version != in_record_version)
    return error{errc::unknown_version, "inbox record version " + std::to_string(version)};
  if (!r.u64(rec.seq) || !r.str(rec.message_id, 64) || !r.str(rec.sender, 128) || !r.u64(received) ||
      !r.u8(state) || !r.str(rec.trust, 32) || !r.u8(q) || !r.str(rec.transport, 256) || !r.u32(n) ||
      !r.take(n, v) || (version == in_record_version && !r.str(rec.topic, max_topic)) || r.left() != 0 || state < 1 ||
      state > 2 || q > 1)
    return bad("inbox record: malformed", r);
  rec.received_ms = static_cast<std::int64_t>(received);
  rec.state = static_cast<in_state>(state);
  rec.quarantined = q == 1;
  rec.payload.assign(v.begin(), v.end());
  return rec;
}

bytes dedup_record::encode() const {
  bytes out{tag ? dedup_record_version : record_version};
  codec::put_u64(out, seq);
  codec::put_str(out, sender);
  codec::put_u64(out, static_cast<std::uint64_t>(seen_ms));
  if (tag) out.insert(out.end(), tag->begin(), tag->end());
  return out;
}

result<dedup_record> dedup_record::decode(bytes_view data) {
  codec::reader r(data);
  dedup_record d;
  std::uint8_t version = 0;
  std::uint64_t seen = 0;
  bytes_view t;
  if (!r.u8(version) || (version != record_version && version != dedup_record_version) || !r.u64(d.seq) ||
      !r.str(d.sender, 128) || !r.u64(seen) || (version == dedup_record_version && !r.take(16, t)) || r.left() != 0)
    return bad("dedup record: malformed", r);
  d.seen_ms = static_cast<std::int64_t>(seen);
  if (version == dedup_record_version) {
    d.tag.emplace();
    std::copy(t.begin(), t.end(), d.tag->begin());
  }
  return d;
}

bytes encode_inbox_seq(std::uint64_t highest) {
  bytes out;
  codec::put_u64(out, highest);
  return out;
}

std::optional<std::uint64_t> decode_inbox_seq(bytes_view data) {
  codec::reader r(data);
  std::uint64_t v = 0;
  if (!r.u64(v) || r.left() != 0 || v == UINT64_MAX) return std::nullopt;
  return v;
}

} // namespace aqua::delivery
