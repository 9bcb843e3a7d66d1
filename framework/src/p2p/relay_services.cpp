// relay_server: extra protocols served through stream_service
// (p2p/stream_service.hpp). A handler lives as long as its stream: it is
// destroyed when it is finished() and its output is written (our side is
// closed then), when it fails (the stream is reset), and when the peer
// resets the stream or the connection goes away.
#include <spdlog/spdlog.h>

#include "p2p/relay_server.hpp"

namespace aqua::p2p {

void relay_server::open_service(skey k, const stream_service& svc, const peer_conn& pc) {
  const std::uint64_t gen = next_generation_++;
  stream_context ctx;
  ctx.remote = pc.peer;
  ctx.remote_addr = host_->remote_address(k.first);
  ctx.relayed = pc.relayed;
  if (auto r = reservation_conn_.find(pc.peer); r != reservation_conn_.end()) ctx.reserved = r->second == k.first;
  // Posted, so a handler may call it from inside its own callbacks; the
  // generation check makes it a no-op once the stream (or server) is gone.
  ctx.wake = [this, k, gen, alive = std::weak_ptr<int>(alive_)] {
    if (alive.expired()) return;
    (void) host_->post([this, k, gen, alive] {
      if (alive.expired()) return;
      auto it = services_.find(k);
      if (it != services_.end() && it->second.generation == gen) drive_service(k);
    });
  };
  std::unique_ptr<stream_handler> h = svc.open ? svc.open(std::move(ctx)) : nullptr;
  if (!h) {
    (void) host_->reset_stream(k.first, k.second);
    return;
  }
  service_stream& s = services_[k];
  s.handler = std::move(h);
  s.generation = gen;
  ++counters_.service_streams;
  spdlog::debug("relay: {} stream {}/{} from {}", svc.protocol, k.first, k.second, pc.peer.str());
  drive_service(k);  // a handler may have something to say first
}

void relay_server::on_service_event(skey k, p2p_event& ev) {
  auto it = services_.find(k);
  if (it == services_.end()) return;
  switch (ev.kind) {
    case p2p_event_kind::stream_data: {
      // Handlers are sans-I/O and take the bytes at once.
      host_->consumed(k.first, k.second, ev.data.size());
      it = services_.find(k);
      if (it == services_.end() || it->second.closing) return;
      if (auto r = it->second.handler->on_data(ev.data); !r) {
        spdlog::debug("relay: service stream {}/{} failed: {}", k.first, k.second, r.err().what());
        return drop_service(k, true);
      }
      return drive_service(k);
    }
    case p2p_event_kind::stream_closed:
      if (!it->second.closing) it->second.handler->on_remote_closed();
      return drive_service(k);
    case p2p_event_kind::stream_reset: return drop_service(k, false);
    case p2p_event_kind::writable: return drive_service(k);
    default: return;
  }
}

void relay_server::drive_service(skey k) {
  auto it = services_.find(k);
  if (it == services_.end()) return;
  service_stream& s = it->second;
  if (!s.closing) {
    bytes more = s.handler->take_output();
    if (s.out.empty()) s.out = std::move(more);
    else s.out.insert(s.out.end(), more.begin(), more.end());
    if (s.handler->aborted()) return drop_service(k, true);
    if (s.out.size() > config_.max_service_output) {
      spdlog::warn("relay: service stream {}/{}: {} bytes of unsent output, resetting", k.first, k.second, s.out.size());
      return drop_service(k, true);
    }
    s.closing = s.handler->finished();
  }
  if (!s.out.empty()) {
    bytes chunk = std::move(s.out);
    auto n = host_->write(k.first, k.second, chunk);
    if (!n) return drop_service(k, false);
    it = services_.find(k);
    if (it == services_.end()) return;
    if (*n < chunk.size()) it->second.out.assign(chunk.begin() + static_cast<std::ptrdiff_t>(*n), chunk.end());
    if (!it->second.out.empty()) return;  // the rest on `writable`
  }
  it = services_.find(k);
  if (it != services_.end() && it->second.closing) {
    drop_service(k, false);
    (void) host_->close_stream(k.first, k.second);
  }
}

void relay_server::drop_service(skey k, bool reset) {
  auto it = services_.find(k);
  if (it == services_.end()) return;
  std::unique_ptr<stream_handler> h = std::move(it->second.handler);
  services_.erase(it);
  h.reset();  // after the map changed: a destructor may call wake()
  if (reset) (void) host_->reset_stream(k.first, k.second);
}

} // namespace aqua::p2p
