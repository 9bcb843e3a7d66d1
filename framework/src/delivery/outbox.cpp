#include "delivery/outbox.hpp"

#include <algorithm>
#include <cmath>

#include <sodium.h>

#include "core/codec.hpp"
#include "core/utf8.hpp"

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
constexpr std::uint8_t record_version = 1;           // sealed (or finished): the envelope
constexpr std::uint8_t unsealed_record_version = 2;  // waiting for the window: the inner frame
constexpr std::uint8_t failed_record_version = 3;    // as 1, then the last attempt's error
constexpr std::uint8_t flagged_record_version = 4;   // as 1, then flags saying which optional fields follow
enum : std::uint8_t { has_inner = 1, has_error = 2, has_content = 4 };

// At most out_record::max_last_error bytes of `why`, cut before a UTF-8 sequence that does not fit, and with any
// byte that is not part of valid UTF-8 (or is a control character) replaced by '?': it ends up in JSON.
std::string clip_error(std::string_view why) {
  std::string out;
  const auto* p = reinterpret_cast<const std::uint8_t*>(why.data());
  for (std::size_t i = 0; i < why.size();) {
    std::size_t n = p[i] < 0x80 ? 1 : detail::utf8_sequence(p + i, why.size() - i);
    if (out.size() + std::max<std::size_t>(n, 1) > out_record::max_last_error) break;
    if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
      out.push_back('?');
      i += 1;
      continue;
    }
    out.append(why.substr(i, n));
    i += n;
  }
  return out;
}

bool valid_error(const std::string& s) { return clip_error(s) == s; }

} // namespace

bytes out_record::encode(bool with_envelope) const {
  bytes out;
  const bool unsealed = with_envelope && !inner.empty();
  const bool failed = !unsealed && !last_error.empty();
  // Versions 1 to 3 for a record without a content digest (written before 2026-11-27, rewritten as it was).
  const std::uint8_t version =
    content ? flagged_record_version : unsealed ? unsealed_record_version : failed ? failed_record_version : record_version;
  out.push_back(version);
  codec::put_str(out, message_id);
  codec::put_str(out, recipient);
  out.push_back(static_cast<std::uint8_t>(state));
  codec::put_u32(out, attempts);
  for (auto v : {created_ms, next_attempt_ms, expires_ms, delivered_ms}) codec::put_u64(out, static_cast<std::uint64_t>(v));
  codec::put_u64(out, seq);
  codec::put_u32(out, with_envelope ? static_cast<std::uint32_t>(envelope.size()) : 0u);
  if (with_envelope) codec::put_bytes(out, envelope);
  if (version == flagged_record_version)
    out.push_back(static_cast<std::uint8_t>((unsealed ? has_inner : 0) | (failed ? has_error : 0) | has_content));
  if (unsealed) {
    codec::put_u32(out, static_cast<std::uint32_t>(inner.size()));
    codec::put_bytes(out, inner);
  }
  if (failed) codec::put_str(out, last_error);
  if (version == flagged_record_version) codec::put_bytes(out, bytes_view(content->data(), content->size()));
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
  if (version < record_version || version > flagged_record_version)
    return error{errc::unknown_version, "outbox record version " + std::to_string(version) + " (this aqua reads 1 to 4)"};
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
  std::uint8_t flags = version == unsealed_record_version ? has_inner : version == failed_record_version ? has_error : 0;
  if (version == flagged_record_version) {
    if (!r.u8(flags)) return bad("truncated in flags");
    if ((flags & ~(has_inner | has_error | has_content)) != 0 || (flags & has_content) == 0)
      return bad("unknown flags");
    if ((flags & has_inner) && (flags & has_error)) return bad("unsealed record with a last error");
  }
  if (flags & has_inner) {
    if (!rec.envelope.empty()) return bad("unsealed record with an envelope");
    if (!r.u32(n) || n == 0 || n > (64u << 20) || !r.take(n, v)) return bad("bad inner frame length");
    rec.inner.assign(v.begin(), v.end());
  }
  if ((flags & has_error) &&
      (!r.str(rec.last_error, out_record::max_last_error) || rec.last_error.empty() || !valid_error(rec.last_error)))
    return bad("bad last error");
  if (flags & has_content) {
    if (!r.take(16, v)) return bad("truncated in content digest");
    rec.content.emplace();
    std::copy(v.begin(), v.end(), rec.content->begin());
  }
  if (r.left() != 0) return bad("trailing bytes");
  return rec;
}

std::array<std::uint8_t, 16> content_digest(const std::string& message_id, bytes_view inner) {
  std::array<std::uint8_t, 16> out{};
  // The ID's 32 hex characters are the key (BLAKE2b takes 16 to 64 bytes; an ID is always 32 here).
  std::array<std::uint8_t, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = i < message_id.size() ? static_cast<std::uint8_t>(message_id[i]) : 0;
  crypto_generichash(out.data(), out.size(), inner.data(), inner.size(), key.data(), key.size());
  return out;
}

void outbox::add(out_record r) {
  if (r.seq == 0) r.seq = next_seq_;
  next_seq_ = std::max(next_seq_, r.seq + 1);
  r.state = r.state == out_state::sent ? out_state::sent : out_state::queued;
  if (r.next_attempt_ms == 0) r.next_attempt_ms = r.created_ms;
  if (auto old = records_.find(r.message_id); old != records_.end()) index_remove(old->second);
  auto& stored = records_[r.message_id] = std::move(r);
  index_add(stored);
}

void outbox::index_add(const out_record& r) {
  if (r.state != out_state::queued && r.state != out_state::sent) return;
  queues_[r.recipient].emplace(r.seq, &r);
  by_expiry_.emplace(r.expires_ms, &r);
}

void outbox::index_remove(const out_record& r) {
  if (auto q = queues_.find(r.recipient); q != queues_.end()) {
    q->second.erase({r.seq, &r});
    if (q->second.empty()) queues_.erase(q);
  }
  by_expiry_.erase({r.expires_ms, &r});
}

std::vector<std::string> outbox::due(std::int64_t now_ms, std::size_t window) const {
  std::vector<by_seq> due;
  for (auto& [recipient, q] : queues_) {
    std::size_t ahead = 0;  // pending messages of this recipient before this one
    for (auto& entry : q) {
      if (window != 0 && ahead++ >= window) break;
      if (entry.second->next_attempt_ms <= now_ms && now_ms < entry.second->expires_ms) due.push_back(entry);
    }
  }
  std::sort(due.begin(), due.end());  // send order
  std::vector<std::string> ids;
  ids.reserve(due.size());
  for (auto& d : due) ids.push_back(d.second->message_id);
  return ids;
}

bool outbox::within_window(const std::string& id, std::size_t window) const {
  auto it = records_.find(id);
  if (it == records_.end() || (it->second.state != out_state::queued && it->second.state != out_state::sent)) return false;
  if (window == 0) return true;
  auto q = queues_.find(it->second.recipient);
  if (q == queues_.end()) return false;
  if (q->second.size() <= window) return true;
  if (q->second.rbegin()->second == &it->second) return false;  // the newest (a new send) behind a full window
  std::size_t ahead = 0;
  for (auto& entry : q->second) {  // in send order
    if (ahead++ >= window) return false;
    if (entry.second == &it->second) return true;
  }
  return false;
}

std::int64_t outbox::backoff_ms(std::uint32_t attempts, double unit_random) const {
  double base = static_cast<double>(policy_.initial_ms) * std::pow(policy_.factor, attempts > 0 ? attempts - 1 : 0);
  base = std::min(base, static_cast<double>(policy_.max_ms));
  double jitter = 1.0 + policy_.jitter * (2.0 * unit_random - 1.0);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(base * jitter));
}

const out_record* outbox::transmitted(const std::string& id, std::int64_t now_ms, double unit_random,
                                     std::string_view failure) {
  auto it = records_.find(id);
  if (it == records_.end()) return nullptr;
  auto& r = it->second;
  if (r.state == out_state::delivered || r.state == out_state::expired) return &r;
  r.last_error = clip_error(failure);
  ++r.attempts;
  r.state = out_state::sent;
  r.next_attempt_ms = now_ms + backoff_ms(r.attempts, unit_random);
  return &r;
}

std::size_t outbox::hasten(const std::string& recipient, std::int64_t now_ms) {
  auto q = queues_.find(recipient);
  if (q == queues_.end()) return 0;
  std::size_t moved = 0;
  for (auto& entry : q->second) {
    auto& r = records_.find(entry.second->message_id)->second;  // the index points at records_' own node
    if (r.next_attempt_ms <= now_ms || r.last_error.empty()) continue;
    r.next_attempt_ms = now_ms;
    ++moved;
  }
  return moved;
}

const out_record* outbox::acked(const std::string& id, std::int64_t now_ms) {
  auto it = records_.find(id);
  if (it == records_.end()) return nullptr;
  auto& r = it->second;
  if (r.state != out_state::delivered) {
    index_remove(r);
    r.last_error.clear();
    r.state = out_state::delivered;
    r.delivered_ms = now_ms;
    finished_.push_back(id);
  }
  return &r;
}

std::vector<std::string> outbox::expire(std::int64_t now_ms) {
  std::vector<std::string> out;
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now_ms) {
    auto& r = records_.find(by_expiry_.begin()->second->message_id)->second;
    index_remove(r);
    r.state = out_state::expired;
    // Said first: a last attempt's note ("held on the mailbox of relay R ... not acknowledged yet") read as if the
    // message were still on its way.
    const std::string expired = "expired before " + r.recipient + " acknowledged it";
    r.last_error = clip_error(r.last_error.empty() ? expired : expired + "; last attempt: " + r.last_error);
    finished_.push_back(r.message_id);
    out.push_back(r.message_id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool outbox::give_up(const std::string& id, std::string_view why) {
  auto it = records_.find(id);
  if (it == records_.end() || (it->second.state != out_state::queued && it->second.state != out_state::sent)) return false;
  if (!why.empty()) it->second.last_error = clip_error(why);
  index_remove(it->second);
  it->second.state = out_state::expired;
  finished_.push_back(id);
  return true;
}

std::optional<std::int64_t> outbox::next_wakeup(std::size_t window) const {
  std::optional<std::int64_t> best;
  if (!by_expiry_.empty()) best = by_expiry_.begin()->first;
  for (auto& [recipient, q] : queues_) {
    std::size_t ahead = 0;
    for (auto& entry : q) {
      if (window != 0 && ahead++ >= window) break;
      auto t = entry.second->next_attempt_ms;
      if (!best || t < *best) best = t;
    }
  }
  return best;
}

const out_record* outbox::find(const std::string& id) const {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : &it->second;
}

void outbox::forget_finished() {
  for (auto& id : finished_)
    if (auto it = records_.find(id);
        it != records_.end() && (it->second.state == out_state::delivered || it->second.state == out_state::expired))
      records_.erase(it);  // (one added again since then is pending: kept)
  finished_.clear();
}

std::size_t outbox::pending() const { return by_expiry_.size(); }

std::size_t outbox::pending_for(const std::string& recipient) const {
  auto q = queues_.find(recipient);
  return q == queues_.end() ? 0 : q->second.size();
}

void outbox::set_sealed(const std::string& id, bytes envelope) {
  auto it = records_.find(id);
  if (it == records_.end()) return;
  it->second.envelope = std::move(envelope);
  it->second.inner.clear();
}

} // namespace aqua::delivery
