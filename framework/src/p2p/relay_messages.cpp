#include "p2p/relay_messages.hpp"

#include <limits>

#include "p2p/protobuf.hpp"

namespace aqua::p2p::relay {
namespace {

error malformed(std::string_view where, const std::string& why) {
  return error{errc::bad_frame, std::string(where) + ": " + why};
}

bool wire_ok(const pb::field& f, pb::wire w) { return f.type == w; }

std::string wrong_wire(const pb::field& f) {
  return "field " + std::to_string(f.number) + " has wire type " + std::to_string(static_cast<int>(f.type));
}

// The embedded-message decoders merge into `out`, as protobuf does when an
// embedded message field occurs more than once.
result<void> decode_peer_into(peer_info& out, bytes_view in, std::string_view where) {
  pb::reader r(in);
  pb::field f;
  while (r.next(f)) {
    if (f.number != 1 && f.number != 2) continue;
    if (!wire_ok(f, pb::wire::len)) return malformed(where, wrong_wire(f));
    if (f.number == 1)
      out.id.assign(f.data.begin(), f.data.end());
    else
      out.addrs.emplace_back(f.data.begin(), f.data.end());
  }
  if (r.failed()) return malformed(where, "truncated or invalid field");
  return ok();
}

result<void> decode_reservation_into(reservation& out, bytes_view in) {
  constexpr std::string_view where = "Reservation";
  pb::reader r(in);
  pb::field f;
  while (r.next(f)) {
    if (f.number < 1 || f.number > 3) continue;
    if (!wire_ok(f, f.number == 1 ? pb::wire::varint : pb::wire::len)) return malformed(where, wrong_wire(f));
    if (f.number == 1)
      out.expire = f.value;
    else if (f.number == 2)
      out.addrs.emplace_back(f.data.begin(), f.data.end());
    else
      out.voucher.assign(f.data.begin(), f.data.end());
  }
  if (r.failed()) return malformed(where, "truncated or invalid field");
  return ok();
}

result<void> decode_limit_into(limit& out, bytes_view in) {
  constexpr std::string_view where = "Limit";
  pb::reader r(in);
  pb::field f;
  while (r.next(f)) {
    if (f.number != 1 && f.number != 2) continue;
    if (!wire_ok(f, pb::wire::varint)) return malformed(where, wrong_wire(f));
    if (f.number == 1) {
      if (f.value > std::numeric_limits<std::uint32_t>::max())
        return malformed(where, "duration " + std::to_string(f.value) + " exceeds uint32");
      out.duration = static_cast<std::uint32_t>(f.value);
    } else {
      out.data = f.value;
    }
  }
  if (r.failed()) return malformed(where, "truncated or invalid field");
  return ok();
}

bytes encode_peer(const peer_info& p) {
  bytes out;
  if (!p.id.empty()) pb::put_bytes_field(out, 1, p.id);
  for (auto& a : p.addrs) pb::put_bytes_field(out, 2, a);
  return out;
}

bytes encode_reservation(const reservation& r) {
  bytes out;
  pb::put_varint_field(out, 1, r.expire);
  for (auto& a : r.addrs) pb::put_bytes_field(out, 2, a);
  if (!r.voucher.empty()) pb::put_bytes_field(out, 3, r.voucher);
  return out;
}

bytes encode_limit(const limit& l) {
  bytes out;
  if (l.duration) pb::put_varint_field(out, 1, *l.duration);
  if (l.data) pb::put_varint_field(out, 2, *l.data);
  return out;
}

// Shared by both message types: field numbers differ, the shape does not.
struct layout {
  std::string_view name;
  std::uint32_t max_type;
  std::uint32_t peer, reservation, limit, status;  // 0 = absent
};
constexpr layout hop_layout{"HopMessage", 2, 2, 3, 4, 5};
constexpr layout stop_layout{"StopMessage", 1, 2, 0, 3, 4};

struct any_message {
  std::optional<std::uint32_t> type;
  std::optional<peer_info> peer;
  std::optional<reservation> rsvp;
  std::optional<limit> lim;
  std::optional<status> st;
};

result<any_message> decode_any(bytes_view in, const layout& l) {
  if (in.size() > max_message_size)
    return error{errc::frame_too_large, std::string(l.name) + " of " + std::to_string(in.size()) +
                                            " bytes exceeds " + std::to_string(max_message_size)};
  any_message m;
  pb::reader r(in);
  pb::field f;
  while (r.next(f)) {
    const std::uint32_t n = f.number;
    const bool scalar = n == 1 || n == l.status;
    if (!scalar && n != l.peer && n != l.reservation && n != l.limit) continue;  // unknown field
    if (!wire_ok(f, scalar ? pb::wire::varint : pb::wire::len)) return malformed(l.name, wrong_wire(f));
    if (n == 1) {
      if (f.value > l.max_type) return malformed(l.name, "unknown type " + std::to_string(f.value));
      m.type = static_cast<std::uint32_t>(f.value);
    } else if (n == l.status) {
      if (f.value > std::numeric_limits<std::uint32_t>::max())
        return malformed(l.name, "status " + std::to_string(f.value) + " out of range");
      m.st = static_cast<status>(f.value);
    } else if (n == l.peer) {
      if (!m.peer) m.peer.emplace();
      if (auto ok = decode_peer_into(*m.peer, f.data, std::string(l.name) + ".peer"); !ok) return ok.err();
    } else if (n == l.reservation) {
      if (!m.rsvp) m.rsvp.emplace();
      if (auto ok = decode_reservation_into(*m.rsvp, f.data); !ok) return ok.err();
    } else {
      if (!m.lim) m.lim.emplace();
      if (auto ok = decode_limit_into(*m.lim, f.data); !ok) return ok.err();
    }
  }
  if (r.failed()) return malformed(l.name, "truncated or invalid field");
  if (!m.type) return malformed(l.name, "missing type (field 1)");
  return m;
}

bytes encode_any(std::uint32_t type, const std::optional<peer_info>& peer, const std::optional<reservation>& rsvp,
                 const std::optional<limit>& lim, const std::optional<status>& st, const layout& l) {
  bytes out;
  pb::put_varint_field(out, 1, type);
  if (peer) pb::put_bytes_field(out, l.peer, encode_peer(*peer));
  if (rsvp && l.reservation) pb::put_bytes_field(out, l.reservation, encode_reservation(*rsvp));
  if (lim) pb::put_bytes_field(out, l.limit, encode_limit(*lim));
  if (st) pb::put_varint_field(out, l.status, static_cast<std::uint32_t>(*st));
  return out;
}

} // namespace

std::string to_string(status s) {
  switch (s) {
    case status::unused: return "UNUSED";
    case status::ok: return "OK";
    case status::reservation_refused: return "RESERVATION_REFUSED";
    case status::resource_limit_exceeded: return "RESOURCE_LIMIT_EXCEEDED";
    case status::permission_denied: return "PERMISSION_DENIED";
    case status::connection_failed: return "CONNECTION_FAILED";
    case status::no_reservation: return "NO_RESERVATION";
    case status::malformed_message: return "MALFORMED_MESSAGE";
    case status::unexpected_message: return "UNEXPECTED_MESSAGE";
  }
  return "UNKNOWN(" + std::to_string(static_cast<std::uint32_t>(s)) + ")";
}

std::string_view to_string(hop_message::kind k) {
  switch (k) {
    case hop_message::kind::reserve: return "RESERVE";
    case hop_message::kind::connect: return "CONNECT";
    case hop_message::kind::status: return "STATUS";
  }
  return "UNKNOWN";
}

std::string_view to_string(stop_message::kind k) {
  return k == stop_message::kind::connect ? "CONNECT" : k == stop_message::kind::status ? "STATUS" : "UNKNOWN";
}

std::uint32_t limit::duration_seconds() const {
  if (!duration || *duration == 0) return 0;
  const std::uint32_t d = *duration;
  if (d % 1000 == 0 || d > 86400) return d / 1000 + (d % 1000 != 0 ? 1 : 0);
  return d;
}

bytes encode(const hop_message& m) {
  return encode_any(static_cast<std::uint32_t>(m.type), m.peer, m.reservation, m.limit, m.status, hop_layout);
}

bytes encode(const stop_message& m) {
  return encode_any(static_cast<std::uint32_t>(m.type), m.peer, std::nullopt, m.limit, m.status, stop_layout);
}

result<hop_message> decode_hop(bytes_view in) {
  auto a = decode_any(in, hop_layout);
  if (!a) return a.err();
  hop_message m;
  m.type = static_cast<hop_message::kind>(*a->type);
  m.peer = std::move(a->peer);
  m.reservation = std::move(a->rsvp);
  m.limit = a->lim;
  m.status = a->st;
  return m;
}

result<stop_message> decode_stop(bytes_view in) {
  auto a = decode_any(in, stop_layout);
  if (!a) return a.err();
  stop_message m;
  m.type = static_cast<stop_message::kind>(*a->type);
  m.peer = std::move(a->peer);
  m.limit = a->lim;
  m.status = a->st;
  return m;
}

hop_message hop_reserve() { return hop_message{}; }

hop_message hop_connect(const peer_id& target) {
  hop_message m;
  m.type = hop_message::kind::connect;
  m.peer = peer_info{target.to_bytes(), {}};
  return m;
}

hop_message hop_status(relay::status s, std::optional<relay::limit> l, std::optional<relay::reservation> r) {
  hop_message m;
  m.type = hop_message::kind::status;
  m.status = s;
  m.limit = std::move(l);
  m.reservation = std::move(r);
  return m;
}

stop_message stop_connect(const peer_id& source, std::optional<relay::limit> l) {
  stop_message m;
  m.type = stop_message::kind::connect;
  m.peer = peer_info{source.to_bytes(), {}};
  m.limit = std::move(l);
  return m;
}

stop_message stop_status(relay::status s) {
  stop_message m;
  m.type = stop_message::kind::status;
  m.status = s;
  return m;
}

result<peer_id> peer_of(const std::optional<peer_info>& p) {
  if (!p || p->id.empty()) return error{errc::bad_frame, "message has no peer ID"};
  auto id = peer_id::from_bytes(p->id);
  if (!id) return error{id.err().code(), "peer ID in message: " + id.err().message()};
  return id;
}

result<bytes> frame(bytes_view message, std::size_t max) {
  if (message.size() > max)
    return error{errc::frame_too_large, "relay message of " + std::to_string(message.size()) +
                                            " bytes exceeds " + std::to_string(max)};
  bytes out;
  out.reserve(message.size() + 3);
  pb::put_varint(out, message.size());
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

void delimited_reader::feed(bytes_view data) {
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > max_) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
  buf_.insert(buf_.end(), data.begin(), data.end());
}

result<std::optional<bytes>> delimited_reader::next() {
  if (failed_) return *failed_;
  bytes_view rest = bytes_view(buf_).subspan(pos_);
  if (rest.empty()) return std::optional<bytes>{};
  auto len = pb::read_varint(rest);
  if (!len) {
    if (rest.size() < 10) return std::optional<bytes>{};
    failed_ = error{errc::bad_frame, "relay message length prefix is not a varint of at most 10 bytes"};
    return *failed_;
  }
  if (len->length > 1 && rest[len->length - 1] == 0)
    failed_ = error{errc::bad_frame, "relay message length prefix is not minimally encoded"};
  else if (len->value > max_)
    failed_ = error{errc::frame_too_large, "relay message of " + std::to_string(len->value) +
                                               " bytes announced, limit is " + std::to_string(max_)};
  if (failed_) return *failed_;
  if (rest.size() - len->length < len->value) return std::optional<bytes>{};
  auto body = rest.subspan(len->length, static_cast<std::size_t>(len->value));
  pos_ += len->length + body.size();
  return std::optional<bytes>{bytes(body.begin(), body.end())};
}

std::size_t delimited_reader::wanted() const {
  if (failed_) return 0;
  bytes_view rest = bytes_view(buf_).subspan(pos_);
  auto len = pb::read_varint(rest);
  if (!len) return rest.size() < 10 ? 1 : 0;
  if (len->value > max_) return 0;  // next() reports it
  const std::uint64_t total = len->length + len->value;
  return total > rest.size() ? static_cast<std::size_t>(total - rest.size()) : 0;
}

bytes delimited_reader::take_rest() {
  bytes out(buf_.begin() + static_cast<std::ptrdiff_t>(pos_), buf_.end());
  buf_.clear();
  pos_ = 0;
  return out;
}

} // namespace aqua::p2p::relay
