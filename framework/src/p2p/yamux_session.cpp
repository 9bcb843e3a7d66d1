#include "p2p/yamux_session.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

namespace aqua::p2p {
namespace {

constexpr std::uint64_t max_send_window = std::numeric_limits<std::uint32_t>::max();

std::string num(std::uint64_t v) { return std::to_string(v); }

} // namespace

yamux_session::yamux_session(yamux_role role, yamux_config config)
    : role_(role), config_(config), next_id_(role == yamux_role::client ? 1 : 2) {
  config_.initial_window = std::max(config_.initial_window, yamux_default_window);
  config_.max_frame_payload = std::max<std::uint32_t>(config_.max_frame_payload, 1);
}

// ---- receiving ----

result<void> yamux_session::on_data(bytes_view in) {
  if (failed_) return failure_;
  std::size_t pos = 0;
  while (pos < in.size()) {
    if (!in_payload_) {
      const std::size_t n = std::min(yamux_header_size - head_len_, in.size() - pos);
      std::memcpy(head_ + head_len_, in.data() + pos, n);
      head_len_ += n;
      pos += n;
      if (head_len_ < yamux_header_size) break;
      head_len_ = 0;
      auto h = decode_yamux_header(bytes_view(head_, yamux_header_size));
      if (!h) return violation(errc::bad_frame, h.err().message());
      if (auto r = handle_header(*h); !r) return r;
    } else {
      const std::size_t n = std::min<std::size_t>(payload_left_, in.size() - pos);
      if (!discard_payload_) payload_.insert(payload_.end(), in.begin() + pos, in.begin() + pos + n);
      pos += n;
      payload_left_ -= static_cast<std::uint32_t>(n);
      if (payload_left_ == 0) finish_data_frame();
    }
  }
  return ok();
}

result<void> yamux_session::handle_header(const yamux_header& h) {
  switch (h.type) {
    case yamux_type::ping:
      // The stream ID "should" be 0; like go-yamux we do not insist.
      if (h.has(yamux_flag::syn)) {
        send_control(yamux_type::ping, yamux_flag::ack, 0, h.length);
        events_.push_back({yamux_event_kind::ping, 0, h.length, {}});
      } else if (h.has(yamux_flag::ack) && pending_pings_.erase(h.length) != 0) {
        events_.push_back({yamux_event_kind::pong, 0, h.length, {}});
      } // an unrequested or flagless pong is ignored
      return ok();
    case yamux_type::go_away:
      if (!remote_go_away_) {
        remote_go_away_ = h.length;
        events_.push_back({yamux_event_kind::go_away, 0, h.length, {}});
      }
      return ok();
    default:
      return handle_stream_frame(h);
  }
}

result<void> yamux_session::handle_stream_frame(const yamux_header& h) {
  const std::uint32_t id = h.stream_id;
  if (id == 0) return violation(errc::bad_frame, "yamux: " + describe(h) + " addresses stream 0 (the session)");
  if (h.has(yamux_flag::syn)) {
    if (ours(id))
      return violation(errc::bad_frame, "yamux: peer opened stream " + num(id) + " of the wrong parity (the " +
                                            std::string(role_ == yamux_role::client ? "server opens even" : "client opens odd") +
                                            " IDs)");
    if (streams_.count(id) != 0)
      return violation(errc::bad_frame, "yamux: SYN for stream " + num(id) + ", which is already open");
    highest_peer_id_ = std::max(highest_peer_id_, id);
    if (local_go_away_ || streams_.size() >= config_.max_streams) {
      send_control(yamux_type::window_update, yamux_flag::rst, id, 0); // refused; its frames are then stale
    } else {
      stream& s = streams_[id];
      s.recv_window = config_.initial_window;
      send_control(yamux_type::window_update, yamux_flag::ack, id, config_.initial_window - yamux_default_window);
      events_.push_back({yamux_event_kind::stream_opened, id, 0, {}});
    }
  }
  auto it = streams_.find(id);
  if (it == streams_.end()) {
    // Frames for a stream that was closed, reset or refused are still in
    // flight: drop them (as go-yamux and js-libp2p do). An ID the peer never
    // opened (or we never allocated) is a violation.
    if (!ever_existed(id))
      return violation(errc::bad_frame, "yamux: " + describe(h) + " for a stream that was never opened (no SYN)");
    if (h.type == yamux_type::data && h.length > 0) {
      in_payload_ = true;
      discard_payload_ = true;
      current_ = h;
      payload_left_ = h.length;
    }
    return ok();
  }
  stream& s = it->second;
  if (h.type == yamux_type::window_update) {
    s.send_window = std::min(s.send_window + h.length, max_send_window);
    flush(id, s);
    if (s.want_writable && s.send_buf.size() - s.send_pos < config_.max_buffered_per_stream) {
      s.want_writable = false;
      events_.push_back({yamux_event_kind::writable, id, 0, {}});
    }
    apply_close_flags(id, h.flags);
    remove_if_done(id); // our queued FIN may just have gone out
    return ok();
  }
  if (h.length > 0 && s.remote_fin)
    return violation(errc::bad_frame, "yamux: " + num(h.length) + " bytes of data on stream " + num(id) +
                                          " after its FIN");
  if (h.length > s.recv_window)
    return violation(errc::frame_too_large, "yamux: " + num(h.length) + " bytes of data on stream " + num(id) +
                                                " exceed its receive window of " + num(s.recv_window));
  s.recv_window -= h.length;
  in_payload_ = true;
  discard_payload_ = false;
  current_ = h;
  payload_left_ = h.length;
  payload_.clear();
  payload_.reserve(h.length); // within the receive window, checked above
  if (h.length == 0) finish_data_frame();
  return ok();
}

void yamux_session::finish_data_frame() {
  in_payload_ = false;
  if (discard_payload_) {
    discard_payload_ = false;
    return;
  }
  const std::uint32_t id = current_.stream_id;
  if (streams_.count(id) == 0) { // reset locally while the frame was arriving
    payload_.clear();
    return;
  }
  if (!payload_.empty()) events_.push_back({yamux_event_kind::data, id, 0, std::exchange(payload_, {})});
  apply_close_flags(id, current_.flags);
}

void yamux_session::apply_close_flags(std::uint32_t id, std::uint16_t flags) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if (flags & yamux_flag::rst) {
    streams_.erase(it);
    events_.push_back({yamux_event_kind::stream_reset, id, 0, {}});
    return;
  }
  if ((flags & yamux_flag::fin) && !it->second.remote_fin) {
    it->second.remote_fin = true;
    events_.push_back({yamux_event_kind::stream_closed, id, 0, {}});
    remove_if_done(id);
  }
}

std::optional<yamux_event> yamux_session::next_event() {
  if (events_.empty()) return std::nullopt;
  yamux_event ev = std::move(events_.front());
  events_.pop_front();
  if (ev.kind == yamux_event_kind::data && config_.window_update_on_delivery) consumed(ev.stream_id, ev.data.size());
  return ev;
}

void yamux_session::consumed(std::uint32_t stream_id, std::size_t n) {
  if (failed_) return;
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  stream& s = it->second;
  // Never grant more than one window in total: recv_window + credit +
  // (received, not yet consumed) == initial_window.
  const std::size_t room = config_.initial_window - s.recv_window - s.credit;
  give_credit(stream_id, s, std::min(n, room));
}

void yamux_session::give_credit(std::uint32_t id, stream& s, std::size_t n) {
  if (s.remote_fin || n == 0) return; // the peer sends nothing more: no update needed
  s.credit += static_cast<std::uint32_t>(n);
  if (s.credit >= config_.initial_window / 2) {
    send_control(yamux_type::window_update, 0, id, s.credit);
    s.recv_window += s.credit;
    s.credit = 0;
  }
}

// ---- sending ----

result<std::uint32_t> yamux_session::open_stream() {
  if (failed_) return error(errc::connection_closed, "yamux: session failed: " + failure_.message());
  if (local_go_away_) return error(errc::connection_closed, "yamux: cannot open a stream after our GoAway");
  if (remote_go_away_)
    return error(errc::connection_closed, "yamux: cannot open a stream, the peer sent GoAway (code " +
                                              num(*remote_go_away_) + ")");
  if (ids_exhausted_) return error(errc::connection_closed, "yamux: stream IDs exhausted");
  if (streams_.size() >= config_.max_streams)
    return error(errc::would_block, "yamux: " + num(streams_.size()) + " streams open (max_streams)");
  const std::uint32_t id = next_id_;
  if (next_id_ > std::numeric_limits<std::uint32_t>::max() - 2)
    ids_exhausted_ = true;
  else
    next_id_ += 2;
  stream& s = streams_[id];
  s.recv_window = config_.initial_window;
  send_control(yamux_type::window_update, yamux_flag::syn, id, config_.initial_window - yamux_default_window);
  return id;
}

result<yamux_session::stream*> yamux_session::writable_stream(std::uint32_t id, const char* op) {
  const std::string what = std::string("yamux: ") + op + " on stream " + num(id) + ": ";
  if (failed_) return error(errc::connection_closed, what + "session failed: " + failure_.message());
  auto it = streams_.find(id);
  if (it == streams_.end()) {
    if (ever_existed(id)) return error(errc::connection_closed, what + "stream is closed or reset");
    return error(errc::invalid_argument, what + "no such stream");
  }
  return &it->second;
}

result<std::size_t> yamux_session::write(std::uint32_t stream_id, bytes_view data) {
  auto sp = writable_stream(stream_id, "write");
  if (!sp) return std::move(sp).err();
  stream& s = **sp;
  if (s.local_fin)
    return error(errc::connection_closed, "yamux: write on stream " + num(stream_id) + ": already closed for writing");
  const std::uint64_t queued = s.send_buf.size() - s.send_pos;
  const std::uint64_t capacity = s.send_window + config_.max_buffered_per_stream;
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), capacity > queued ? capacity - queued : 0));
  s.send_buf.insert(s.send_buf.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
  flush(stream_id, s);
  if (n < data.size()) s.want_writable = true;
  return n;
}

void yamux_session::flush(std::uint32_t id, stream& s) {
  while (s.send_pos < s.send_buf.size() && s.send_window > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(
        {s.send_buf.size() - s.send_pos, s.send_window, config_.max_frame_payload}));
    const bool last = s.send_pos + n == s.send_buf.size();
    const std::uint16_t flags = (last && s.local_fin) ? yamux_flag::fin : 0;
    encode_yamux_data(output_, flags, id, bytes_view(s.send_buf).subspan(s.send_pos, n));
    s.send_pos += n;
    s.send_window -= n;
    if (flags != 0) s.fin_sent = true;
  }
  if (s.send_pos == s.send_buf.size()) {
    s.send_buf.clear();
    s.send_pos = 0;
  } else if (s.send_pos >= s.send_buf.size() / 2) {
    s.send_buf.erase(s.send_buf.begin(), s.send_buf.begin() + static_cast<std::ptrdiff_t>(s.send_pos));
    s.send_pos = 0;
  }
  if (s.local_fin && !s.fin_sent && s.send_buf.empty()) {
    send_control(yamux_type::window_update, yamux_flag::fin, id, 0);
    s.fin_sent = true;
  }
}

result<void> yamux_session::close_stream(std::uint32_t stream_id) {
  auto sp = writable_stream(stream_id, "close");
  if (!sp) return std::move(sp).err();
  stream& s = **sp;
  if (s.local_fin) return ok();
  s.local_fin = true;
  flush(stream_id, s);
  remove_if_done(stream_id);
  return ok();
}

result<void> yamux_session::reset_stream(std::uint32_t stream_id) {
  auto sp = writable_stream(stream_id, "reset");
  if (!sp) {
    if (!failed_ && ever_existed(stream_id)) return ok(); // already gone
    return std::move(sp).err();
  }
  send_control(yamux_type::window_update, yamux_flag::rst, stream_id, 0);
  streams_.erase(stream_id);
  return ok();
}

result<void> yamux_session::ping(std::uint32_t opaque) {
  if (failed_) return error(errc::connection_closed, "yamux: ping: session failed: " + failure_.message());
  if (pending_pings_.count(opaque) == 0 && pending_pings_.size() >= config_.max_pending_pings)
    return error(errc::would_block, "yamux: ping: " + num(pending_pings_.size()) + " pings already outstanding");
  pending_pings_.insert(opaque);
  send_control(yamux_type::ping, yamux_flag::syn, 0, opaque);
  return ok();
}

result<void> yamux_session::go_away(std::uint32_t code) {
  if (failed_) return error(errc::connection_closed, "yamux: go_away: session failed: " + failure_.message());
  if (local_go_away_) return ok();
  local_go_away_ = true;
  send_control(yamux_type::go_away, 0, 0, code);
  return ok();
}

bytes yamux_session::take_output() { return std::exchange(output_, {}); }

// ---- helpers ----

void yamux_session::send_control(yamux_type type, std::uint16_t flags, std::uint32_t id, std::uint32_t value) {
  encode_yamux_header(output_, {yamux_version, type, flags, id, value});
}

bool yamux_session::ever_existed(std::uint32_t id) const noexcept {
  if (id == 0) return false;
  if (ours(id)) return ids_exhausted_ || id < next_id_;
  return id <= highest_peer_id_;
}

void yamux_session::remove_if_done(std::uint32_t id) {
  auto it = streams_.find(id);
  if (it != streams_.end() && it->second.remote_fin && it->second.fin_sent) streams_.erase(it);
}

result<void> yamux_session::violation(errc code, std::string message) {
  failed_ = true;
  failure_ = error(code, std::move(message));
  in_payload_ = false;
  payload_.clear();
  send_control(yamux_type::go_away, 0, 0, yamux_go_away::protocol_error);
  return failure_;
}

std::uint64_t yamux_session::send_window(std::uint32_t stream_id) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? 0 : it->second.send_window;
}

std::size_t yamux_session::buffered(std::uint32_t stream_id) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? 0 : it->second.send_buf.size() - it->second.send_pos;
}

} // namespace aqua::p2p
