// p2p_connection: per-stream negotiation and the built-in protocols
// (ping, identify, identify push). The upgrade is in p2p_connection.cpp.
#include <algorithm>
#include <utility>

#include "p2p/p2p_connection.hpp"
#include "p2p/protobuf.hpp"

namespace aqua::p2p {
namespace {

p2p_event event_of(p2p_event_kind k, std::uint32_t id = 0, std::string reason = {}, std::int64_t rtt = 0) {
  p2p_event ev;
  ev.kind = k;
  ev.stream_id = id;
  ev.reason = std::move(reason);
  ev.rtt_ms = rtt;
  return ev;
}

} // namespace

result<std::uint32_t> p2p_connection::open_internal(std::vector<std::string> protocols, handler wanted) {
  if (error_) return *error_;
  if (!yamux_) return error{errc::not_running, "p2p connection: not established"};
  multistream_dialer d(std::move(protocols));
  if (d.failed()) return d.failure();
  auto id = yamux_->open_stream();
  if (!id) return id.err();
  stream& s = streams_[*id];
  s.inbound = false;
  s.wanted = wanted;
  s.ms_dialer.emplace(std::move(d));
  send_on(*id, s.ms_dialer->take_output());
  if (auto f = flush_yamux(); !f) return f.err();
  return *id;
}

void p2p_connection::send_on(std::uint32_t id, bytes_view data) {
  if (data.empty() || !yamux_) return;
  // Built-in messages and negotiation are small; the peer's window (256 KiB)
  // plus yamux's queue always take them.
  (void) yamux_->write(id, data);
}

void p2p_connection::handle_yamux_event(yamux_event& ev) {
  if (ev.kind == yamux_event_kind::go_away) {
    emit(event_of(p2p_event_kind::go_away));
    return;
  }
  if (ev.kind == yamux_event_kind::ping || ev.kind == yamux_event_kind::pong) return;
  if (ev.kind == yamux_event_kind::stream_opened) {
    stream& s = streams_[ev.stream_id];
    s.inbound = true;
    s.ms_listener.emplace(supported());
    send_on(ev.stream_id, s.ms_listener->take_output());
    return;
  }
  auto it = streams_.find(ev.stream_id);
  if (it == streams_.end()) {
    if (ev.kind == yamux_event_kind::data) auto_consume(ev.stream_id, ev.data.size());
    return;
  }
  stream& s = it->second;
  switch (ev.kind) {
    case yamux_event_kind::data: on_stream_data(ev.stream_id, s, std::move(ev.data)); break;
    case yamux_event_kind::stream_closed: on_peer_fin(ev.stream_id, s); break;
    case yamux_event_kind::stream_reset: drop_stream(ev.stream_id, "reset by the peer", true); break;
    case yamux_event_kind::writable:
      if (s.h == handler::app) {
        if (!s.buf.empty()) {
          auto n = yamux_->write(ev.stream_id, s.buf);
          if (n) s.buf.erase(s.buf.begin(), s.buf.begin() + static_cast<std::ptrdiff_t>(*n));
          if (s.buf.empty() && s.close_pending) (void) yamux_->close_stream(ev.stream_id);
        }
        if (s.buf.empty()) emit(event_of(p2p_event_kind::writable, ev.stream_id));
      }
      break;
    default: break;
  }
}

void p2p_connection::auto_consume(std::uint32_t id, std::size_t n) {
  if (!config_.yamux.window_update_on_delivery && yamux_ && n > 0) yamux_->consumed(id, n);
}

void p2p_connection::consumed(std::uint32_t stream_id, std::size_t n) {
  if (config_.yamux.window_update_on_delivery || !yamux_ || error_ || n == 0) return;
  yamux_->consumed(stream_id, n);
  (void) flush_yamux();  // the window update goes out with the next take_output()
}

void p2p_connection::drop_stream(std::uint32_t id, std::string reason, bool tell_app) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const stream& s = it->second;
  const handler role = s.h == handler::negotiating ? (s.inbound ? handler::negotiating : s.wanted) : s.h;
  if (tell_app && role == handler::app)
    emit(event_of(p2p_event_kind::stream_reset, id, reason));
  if (role == handler::ping_out && !s.ping_payload.empty())
    emit(event_of(p2p_event_kind::pong, 0, reason, -1));
  streams_.erase(it);
  if (yamux_) (void) yamux_->reset_stream(id);
}

void p2p_connection::on_stream_data(std::uint32_t id, stream& s, bytes data) {
  if (s.h == handler::app) {
    p2p_event ev = event_of(p2p_event_kind::stream_data, id);
    ev.data = std::move(data);
    emit(std::move(ev));
    return;
  }
  if (s.h != handler::negotiating) {
    auto_consume(id, data.size());
    if (s.buf.size() + data.size() > identify_max_message + 16) {
      drop_stream(id, "too much data on a built-in protocol stream", true);
      return;
    }
    s.buf.insert(s.buf.end(), data.begin(), data.end());
    on_builtin_data(id, s);
    return;
  }
  result<void> r;
  bool done = false;
  std::string selected;
  bytes leftover;
  if (s.ms_listener) {
    r = s.ms_listener->on_data(data);
    send_on(id, s.ms_listener->take_output());
    if (r && s.ms_listener->done()) {
      done = true;
      selected = s.ms_listener->selected();
      leftover = s.ms_listener->take_leftover();
    }
  } else {
    r = s.ms_dialer->on_data(data);
    send_on(id, s.ms_dialer->take_output());
    if (r && s.ms_dialer->done()) {
      done = true;
      selected = s.ms_dialer->selected();
      leftover = s.ms_dialer->take_leftover();
    }
  }
  auto_consume(id, data.size() - std::min(data.size(), leftover.size()));
  if (!r) {
    drop_stream(id, "protocol negotiation failed: " + r.err().what(), true);
    return;
  }
  if (done) on_negotiated(id, s, selected, std::move(leftover));
}

void p2p_connection::on_negotiated(std::uint32_t id, stream& s, const std::string& protocol, bytes leftover) {
  s.ms_listener.reset();
  s.ms_dialer.reset();
  if (s.inbound) {
    s.h = protocol == ping_protocol_id            ? handler::ping_in
          : protocol == identify_protocol_id      ? handler::id_in
          : protocol == identify_push_protocol_id ? handler::push_in
                                                  : handler::app;
  } else {
    s.h = s.wanted;
  }
  switch (s.h) {
    case handler::app: {
      p2p_event ev = event_of(p2p_event_kind::stream_opened, id);
      ev.protocol = protocol;
      ev.inbound = s.inbound;
      emit(std::move(ev));
      if (!s.buf.empty()) {
        auto n = yamux_->write(id, s.buf);
        if (n) s.buf.erase(s.buf.begin(), s.buf.begin() + static_cast<std::ptrdiff_t>(*n));
      }
      if (s.buf.empty() && s.close_pending) (void) yamux_->close_stream(id);
      break;
    }
    case handler::id_in: {
      bytes msg = encode_identify(own_identify());
      bytes framed;
      pb::put_varint(framed, msg.size());
      framed.insert(framed.end(), msg.begin(), msg.end());
      send_on(id, framed);
      (void) yamux_->close_stream(id);
      break;
    }
    case handler::ping_out: {
      s.ping_payload.resize(ping_payload_size);
      env_->random_bytes(s.ping_payload);
      s.ping_sent_ms = env_->now_unix_ms();
      send_on(id, s.ping_payload);
      break;
    }
    default: break;
  }
  if (!leftover.empty()) on_stream_data(id, s, std::move(leftover));
}

void p2p_connection::on_builtin_data(std::uint32_t id, stream& s) {
  switch (s.h) {
    case handler::ping_in: {
      std::size_t at = 0;
      for (; s.buf.size() - at >= ping_payload_size; at += ping_payload_size)
        send_on(id, bytes_view(s.buf).subspan(at, ping_payload_size));
      s.buf.erase(s.buf.begin(), s.buf.begin() + static_cast<std::ptrdiff_t>(at));
      break;
    }
    case handler::ping_out: {
      if (s.ping_payload.empty()) {
        s.buf.clear();
        break;
      }
      if (s.buf.size() < ping_payload_size) break;
      const bool same = std::equal(s.ping_payload.begin(), s.ping_payload.end(), s.buf.begin());
      p2p_event ev = event_of(p2p_event_kind::pong);
      ev.rtt_ms = same ? std::max<std::int64_t>(0, env_->now_unix_ms() - s.ping_sent_ms) : -1;
      if (!same) ev.reason = "ping answer differs from the payload";
      emit(std::move(ev));
      s.ping_payload.clear();
      s.buf.clear();
      (void) yamux_->close_stream(id);
      break;
    }
    case handler::id_out: {
      auto len = pb::read_varint(s.buf);
      if (!len) {
        if (s.buf.size() >= 10) drop_stream(id, "identify: bad length prefix", false);
        break;
      }
      if (len->value > identify_max_message) {
        drop_stream(id, "identify: message too large", false);
        break;
      }
      if (s.buf.size() - len->length < len->value) break;
      auto m = decode_identify(bytes_view(s.buf).subspan(len->length, static_cast<std::size_t>(len->value)));
      s.buf.clear();
      s.h = handler::push_in; // ignore anything after the message
      if (m) {
        auto who = identify_peer(*m);
        if (who && *who == remote_) {
          remote_identify_ = *m;
          p2p_event ev = event_of(p2p_event_kind::identified);
          ev.peer = remote_;
          ev.identify = std::move(*m);
          emit(std::move(ev));
        }
      }
      (void) yamux_->close_stream(id);
      break;
    }
    default: s.buf.clear(); break; // id_in, push_in: read and ignore
  }
}

void p2p_connection::on_peer_fin(std::uint32_t id, stream& s) {
  if (s.h == handler::negotiating) {
    drop_stream(id, "closed by the peer during protocol negotiation", true);
    return;
  }
  if (s.h == handler::app) {
    emit(event_of(p2p_event_kind::stream_closed, id));
  } else {
    if (s.h == handler::ping_out && !s.ping_payload.empty())
      emit(event_of(p2p_event_kind::pong, 0, "ping stream closed early", -1));
    s.ping_payload.clear();
    (void) yamux_->close_stream(id);
  }
  if (!yamux_->has_stream(id)) streams_.erase(id);
}

} // namespace aqua::p2p
