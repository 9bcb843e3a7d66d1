#include "delivery/outbox.hpp"

#include <algorithm>
#include <cmath>

#include "core/codec.hpp"

namespace aqua::delivery {

std::string_view to_string(out_state s) {
  switch (s) {
    case out_state::queued: return "queued";
    case out_state::sent: return "sent";
    case out_state::delivered: return "delivered";
    case out_state::expired: return "expired";
  }
  return "queued";
}

namespace {
constexpr std::uint8_t record_version = 1;

} // namespace

bytes out_record::encode() const {
  bytes out;
  out.push_back(record_version);
  codec::put_str(out, message_id);
  codec::put_str(out, recipient);
  out.push_back(static_cast<std::uint8_t>(state));
  codec::put_u32(out, attempts);
  for (auto v : {created_ms, next_attempt_ms, expires_ms, delivered_ms}) codec::put_u64(out, static_cast<std::uint64_t>(v));
  codec::put_u64(out, seq);
  codec::put_u32(out, static_cast<std::uint32_t>(envelope.size()));
  codec::put_bytes(out, envelope);
  return out;
}

result<out_record> out_record::decode(bytes_view data) {
  codec::reader r(data);
  out_record rec;
  std::uint8_t version = 0, state = 0;
  auto bad = [&](const char* what) {
    return error{errc::bad_session_state, std::string("outbox record: ") + what + " at byte " + std::to_string(r.pos())};
  };
  if (!r.u8(version)) return bad("empty");
  if (version != record_version) return error{errc::unknown_version, "outbox record version " + std::to_string(version)};
  if (!r.str(rec.message_id, 64) || !r.str(rec.recipient, 128) || !r.u8(state) || !r.u32(rec.attempts))
    return bad("truncated");
  if (state < 1 || state > 4) return bad("unknown state");
  rec.state = static_cast<out_state>(state);
  std::uint64_t t[4];
  for (auto& v : t)
    if (!r.u64(v)) return bad("truncated in times");
  rec.created_ms = static_cast<std::int64_t>(t[0]);
  rec.next_attempt_ms = static_cast<std::int64_t>(t[1]);
  rec.expires_ms = static_cast<std::int64_t>(t[2]);
  rec.delivered_ms = static_cast<std::int64_t>(t[3]);
  if (!r.u64(rec.seq)) return bad("truncated in seq");
  std::uint32_t n = 0;
  bytes_view v;
  if (!r.u32(n) || n > (64u << 20) || !r.take(n, v)) return bad("bad envelope length");
  rec.envelope.assign(v.begin(), v.end());
  if (r.left() != 0) return bad("trailing bytes");
  return rec;
}

void outbox::add(out_record r) {
  if (r.seq == 0) r.seq = next_seq_;
  next_seq_ = std::max(next_seq_, r.seq + 1);
  r.state = r.state == out_state::sent ? out_state::sent : out_state::queued;
  if (r.next_attempt_ms == 0) r.next_attempt_ms = r.created_ms;
  records_[r.message_id] = std::move(r);
}

std::vector<std::string> outbox::due(std::int64_t now_ms, std::size_t window) const {
  std::vector<const out_record*> pending;
  for (auto& [id, r] : records_)
    if ((r.state == out_state::queued || r.state == out_state::sent) && now_ms < r.expires_ms) pending.push_back(&r);
  std::sort(pending.begin(), pending.end(), [](auto* a, auto* b) { return a->seq < b->seq; });  // send order
  std::map<std::string, std::size_t> rank;  // per recipient: pending messages ahead of this one
  std::vector<std::string> ids;
  for (auto* r : pending) {
    auto ahead = rank[r->recipient]++;
    if (window != 0 && ahead >= window) continue;
    if (r->next_attempt_ms <= now_ms) ids.push_back(r->message_id);
  }
  return ids;
}

std::int64_t outbox::backoff_ms(std::uint32_t attempts, double unit_random) const {
  double base = static_cast<double>(policy_.initial_ms) * std::pow(policy_.factor, attempts > 0 ? attempts - 1 : 0);
  base = std::min(base, static_cast<double>(policy_.max_ms));
  double jitter = 1.0 + policy_.jitter * (2.0 * unit_random - 1.0);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(base * jitter));
}

const out_record* outbox::transmitted(const std::string& id, std::int64_t now_ms, double unit_random) {
  auto it = records_.find(id);
  if (it == records_.end()) return nullptr;
  auto& r = it->second;
  if (r.state == out_state::delivered || r.state == out_state::expired) return &r;
  ++r.attempts;
  r.state = out_state::sent;
  r.next_attempt_ms = now_ms + backoff_ms(r.attempts, unit_random);
  return &r;
}

const out_record* outbox::acked(const std::string& id, std::int64_t now_ms) {
  auto it = records_.find(id);
  if (it == records_.end()) return nullptr;
  auto& r = it->second;
  if (r.state != out_state::delivered) {
    r.state = out_state::delivered;
    r.delivered_ms = now_ms;
  }
  return &r;
}

std::vector<std::string> outbox::expire(std::int64_t now_ms) {
  std::vector<std::string> out;
  for (auto& [id, r] : records_)
    if ((r.state == out_state::queued || r.state == out_state::sent) && now_ms >= r.expires_ms) {
      r.state = out_state::expired;
      out.push_back(id);
    }
  return out;
}

std::optional<std::int64_t> outbox::next_wakeup(std::size_t window) const {
  std::vector<const out_record*> pending;
  for (auto& [id, r] : records_)
    if (r.state == out_state::queued || r.state == out_state::sent) pending.push_back(&r);
  std::sort(pending.begin(), pending.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
  std::map<std::string, std::size_t> rank;
  std::optional<std::int64_t> best;
  for (auto* r : pending) {
    auto ahead = rank[r->recipient]++;
    auto t = ahead < window || window == 0 ? std::min(r->next_attempt_ms, r->expires_ms) : r->expires_ms;
    if (!best || t < *best) best = t;
  }
  return best;
}

const out_record* outbox::find(const std::string& id) const {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : &it->second;
}

void outbox::forget_finished() {
  for (auto it = records_.begin(); it != records_.end();)
    it = (it->second.state == out_state::delivered || it->second.state == out_state::expired) ? records_.erase(it)
                                                                                                : std::next(it);
}

std::size_t outbox::pending() const {
  return static_cast<std::size_t>(std::count_if(records_.begin(), records_.end(), [](auto& p) {
    return p.second.state == out_state::queued || p.second.state == out_state::sent;
  }));
}

} // namespace aqua::delivery
