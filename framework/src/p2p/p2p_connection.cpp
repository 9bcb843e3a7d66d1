#include "p2p/p2p_connection.hpp"

#include "p2p/noise_handshake.hpp"

#include <utility>

namespace aqua::p2p {

namespace {
// A Noise failure, named as such once: the core's own messages already start with "noise: ".
error noise_error(const error& e) {
  return e.message().rfind("noise: ", 0) == 0 ? e : error{e.code(), "noise: " + e.message()};
}
} // namespace

namespace {

// Feeds the current connection-level negotiation; returns its output.
template <class MS>
result<bytes> feed(MS& ms, bytes_view in) {
  auto r = ms.on_data(in);
  bytes out = ms.take_output();
  if (!r) return r.err();
  return out;
}

} // namespace

p2p_connection::p2p_connection(bool dialer, session_factory sessions, const public_key& self, env& e,
                               std::optional<peer_id> expected, p2p_config config)
    : dialer_(dialer), own_key_(self), sessions_(std::move(sessions)), env_(&e), expected_(std::move(expected)),
      config_(std::move(config)) {
  if (dialer_) {
    ms_dialer_.emplace(std::vector<std::string>{std::string(noise_protocol_id)});
    raw_out_ = ms_dialer_->take_output();
  } else {
    ms_listener_.emplace(std::vector<std::string>{std::string(noise_protocol_id)});
    raw_out_ = ms_listener_->take_output();
  }
}

p2p_connection p2p_connection::dialer(const keypair& identity, env& e, std::optional<peer_id> expected_remote,
                                      p2p_config config) {
  return p2p_connection(true, keypair_sessions(identity, e), identity.pub(), e, std::move(expected_remote),
                        std::move(config));
}

p2p_connection p2p_connection::dialer(session_factory sessions, const public_key& self, env& e,
                                      std::optional<peer_id> expected_remote, p2p_config config) {
  return p2p_connection(true, std::move(sessions), self, e, std::move(expected_remote), std::move(config));
}

p2p_connection p2p_connection::listener(session_factory sessions, const public_key& self, env& e, p2p_config config) {
  return p2p_connection(false, std::move(sessions), self, e, std::nullopt, std::move(config));
}

p2p_connection p2p_connection::listener(const keypair& identity, env& e, p2p_config config) {
  return p2p_connection(false, keypair_sessions(identity, e), identity.pub(), e, std::nullopt, std::move(config));
}

error p2p_connection::fail(error e) {
  if (!error_) error_ = e;
  return *error_;
}

result<void> p2p_connection::on_data(bytes_view in) {
  if (error_) return *error_;
  if (in.empty()) return ok();
  if (phase_ == phase::security_select) {
    const bool d = ms_dialer_.has_value();
    auto out = d ? feed(*ms_dialer_, in) : feed(*ms_listener_, in);
    if (!out) return fail(error{out.err().code(), "security negotiation: " + out.err().message()});
    raw_out_.insert(raw_out_.end(), out->begin(), out->end());
    const bool done = d ? ms_dialer_->done() : ms_listener_->done();
    if (!done) return ok();
    bytes leftover = d ? ms_dialer_->take_leftover() : ms_listener_->take_leftover();
    ms_dialer_.reset();
    ms_listener_.reset();
    return start_noise(std::move(leftover));
  }
  if (auto r = noise_->on_data(in); !r) {
    // would_block cannot happen: plaintext is drained after every frame batch.
    return fail(noise_error(r.err()));
  }
  return pump_plaintext();
}

result<void> p2p_connection::start_noise(bytes leftover) {
  auto session = sessions_(dialer_, expected_);
  if (!session) return fail(error{errc::not_running, "p2p connection: no Noise session available"});
  noise_.emplace(std::move(session));
  if (noise_->failed()) return fail(error{errc::crypto_failure, "noise: session failed to start"});
  phase_ = phase::muxer_select;
  bytes hello;
  if (dialer_) {
    ms_dialer_.emplace(std::vector<std::string>{std::string(yamux_protocol_id)});
    hello = ms_dialer_->take_output();
  } else {
    ms_listener_.emplace(std::vector<std::string>{std::string(yamux_protocol_id)});
    hello = ms_listener_->take_output();
  }
  // Queued by noise_stream until the handshake completes.
  if (auto r = noise_->send(hello); !r) return fail(r.err());
  if (leftover.empty()) return ok();
  if (auto r = noise_->on_data(leftover); !r) return fail(noise_error(r.err()));
  return pump_plaintext();
}

result<void> p2p_connection::pump_plaintext() {
  if (noise_->established() && remote_.empty()) remote_ = noise_->remote_peer();
  for (std::size_t guard = 0; guard < (std::size_t{1} << 20); ++guard) {
    auto p = noise_->next_plaintext();
    if (!p) break;
    if (auto r = on_muxer_bytes(*p); !r) return r;
  }
  return ok();
}

result<void> p2p_connection::on_muxer_bytes(bytes_view in) {
  if (phase_ == phase::muxer_select) {
    const bool d = ms_dialer_.has_value();
    auto out = d ? feed(*ms_dialer_, in) : feed(*ms_listener_, in);
    if (!out) return fail(error{out.err().code(), "muxer negotiation: " + out.err().message()});
    if (!out->empty())
      if (auto r = noise_->send(*out); !r) return fail(r.err());
    const bool done = d ? ms_dialer_->done() : ms_listener_->done();
    if (!done) return ok();
    bytes leftover = d ? ms_dialer_->take_leftover() : ms_listener_->take_leftover();
    ms_dialer_.reset();
    ms_listener_.reset();
    yamux_.emplace(dialer_ ? yamux_role::client : yamux_role::server, config_.yamux);
    phase_ = phase::muxed;
    remote_ = noise_->remote_peer();
    p2p_event ev;
    ev.kind = p2p_event_kind::established;
    ev.peer = remote_;
    emit(std::move(ev));
    if (config_.identify_on_connect) (void) open_internal({std::string(identify_protocol_id)}, handler::id_out);
    if (leftover.empty()) return flush_yamux();
    return on_muxer_bytes(leftover);
  }
  auto r = yamux_->on_data(in);
  for (std::size_t guard = 0; guard < (std::size_t{1} << 20); ++guard) {
    auto ev = yamux_->next_event();
    if (!ev) break;
    handle_yamux_event(*ev);
  }
  std::erase_if(streams_, [this](const auto& kv) { return !yamux_->has_stream(kv.first); });
  if (auto f = flush_yamux(); !f) return f;
  if (!r) return fail(error{r.err().code(), "yamux: " + r.err().message()});
  return ok();
}

result<void> p2p_connection::flush_yamux() {
  if (!yamux_) return ok();
  bytes out = yamux_->take_output();
  if (out.empty()) return ok();
  if (auto r = noise_->send(out); !r) return fail(r.err());
  return ok();
}

bytes p2p_connection::take_output() {
  bytes out = std::move(raw_out_);
  raw_out_.clear();
  if (noise_ && noise_->has_output()) {
    bytes n = noise_->take_output();
    if (out.empty()) return n;
    out.insert(out.end(), n.begin(), n.end());
  }
  return out;
}

std::optional<p2p_event> p2p_connection::next_event() {
  if (events_.empty()) return std::nullopt;
  p2p_event ev = std::move(events_.front());
  events_.pop_front();
  return ev;
}

result<std::uint32_t> p2p_connection::open_stream(std::vector<std::string> protocols) {
  return open_internal(std::move(protocols), handler::app);
}

result<void> p2p_connection::ping() {
  auto r = open_internal({std::string(ping_protocol_id)}, handler::ping_out);
  if (!r) return r.err();
  return ok();
}

result<void> p2p_connection::request_identify() {
  auto r = open_internal({std::string(identify_protocol_id)}, handler::id_out);
  if (!r) return r.err();
  return ok();
}

result<void> p2p_connection::close() {
  if (error_) return *error_;
  if (!yamux_) return error{errc::not_running, "p2p connection: not established"};
  if (auto r = yamux_->go_away(); !r) return r;
  return flush_yamux();
}

result<std::size_t> p2p_connection::write(std::uint32_t id, bytes_view data) {
  if (error_) return *error_;
  auto it = streams_.find(id);
  const bool app = it != streams_.end() &&
                   (it->second.h == handler::app ||
                    (it->second.h == handler::negotiating && !it->second.inbound && it->second.wanted == handler::app));
  if (!yamux_ || !app)
    return error{errc::invalid_argument, "p2p connection: no application stream " + std::to_string(id)};
  stream& s = it->second;
  if (s.close_pending) return error{errc::connection_closed, "p2p connection: stream closed for writing"};
  if (s.h == handler::negotiating || !s.buf.empty()) {
    const std::size_t room = max_pending_write - std::min(max_pending_write, s.buf.size());
    const std::size_t n = std::min(room, data.size());
    s.buf.insert(s.buf.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
  }
  auto r = yamux_->write(id, data);
  if (auto f = flush_yamux(); !f) return f.err();
  return r;
}

result<void> p2p_connection::close_stream(std::uint32_t id) {
  if (error_) return *error_;
  auto it = streams_.find(id);
  if (!yamux_ || it == streams_.end()) return error{errc::connection_closed, "p2p connection: stream gone"};
  if (it->second.h == handler::negotiating || !it->second.buf.empty()) {
    it->second.close_pending = true;
    return ok();
  }
  auto r = yamux_->close_stream(id);
  if (!yamux_->has_stream(id)) streams_.erase(id);
  if (auto f = flush_yamux(); !f) return f;
  return r;
}

result<void> p2p_connection::reset_stream(std::uint32_t id) {
  if (error_) return *error_;
  if (!yamux_) return ok();
  streams_.erase(id);
  (void) yamux_->reset_stream(id);
  return flush_yamux();
}

identify_info p2p_connection::own_identify() const {
  identify_info m;
  m.protocol_version = config_.protocol_version;
  m.agent_version = config_.agent_version;
  m.public_key = encode_libp2p_public_key(own_key_);
  m.listen_addrs = config_.listen_addrs;
  m.observed_addr = config_.observed_addr;
  m.protocols = supported();
  return m;
}

std::vector<std::string> p2p_connection::supported() const {
  std::vector<std::string> s = {std::string(identify_protocol_id), std::string(identify_push_protocol_id),
                                std::string(ping_protocol_id)};
  for (const auto& p : config_.protocols) s.push_back(p);
  return s;
}

} // namespace aqua::p2p
