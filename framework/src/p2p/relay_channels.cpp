// relay_client: /aqua/msg/1.0.0 channels and the circuits under them: HOP
// CONNECT (dialing through a relay) and STOP (a relayed connection to us).
#include <spdlog/spdlog.h>

#include <cstring>

#include "p2p/protobuf.hpp"
#include "p2p/relay_client.hpp"

namespace aqua::p2p {

bytes aqua_msg_frame(bytes_view frame) {
  bytes out;
  pb::put_varint(out, frame.size());
  const std::size_t at = out.size();
  out.resize(at + frame.size());
  if (!frame.empty()) std::memcpy(out.data() + at, frame.data(), frame.size());
  return out;
}

result<channel_id> relay_client::dial(const std::string& circuit_addr) {
  return on_loop([&] { return dial_on_loop(circuit_addr); });
}

result<void> relay_client::send(channel_id ch, bytes_view frame) {
  return on_loop([&] { return send_on_loop(ch, frame); });
}

result<void> relay_client::close(channel_id ch) {
  return on_loop([&]() -> result<void> {
    auto it = channels_.find(ch);
    if (it == channels_.end()) return error{errc::connection_closed, "relay client: no channel " + std::to_string(ch)};
    it->second.close_pending = true;
    flush_channel(ch);
    return ok();
  });
}

result<channel_id> relay_client::dial_on_loop(const std::string& addr) {
  constexpr std::string_view marker = "/p2p-circuit/p2p/";
  const auto at = addr.find(marker);
  if (at == std::string::npos)
    return error{errc::bad_address, "relay client: not a circuit address (…/p2p/RELAY/p2p-circuit/p2p/PEER): " + addr};
  auto ep = parse_relay(addr.substr(0, at));
  if (!ep) return ep.err();
  auto target = peer_id::parse(addr.substr(at + marker.size()));
  if (!target) return error{target.err().code(), "relay client: " + addr + ": " + target.err().message()};
  if (channels_.size() >= config_.max_channels)
    return error{errc::would_block, "relay client: " + std::to_string(channels_.size()) + " channels"};
  auto link = link_to(*ep);  // the relay's connection (reservation, earlier dial or deposit) or a new one
  if (!link) return link.err();
  const channel_id ch = next_channel_++;
  channels_[ch].peer = *target;
  // A relay that never answers CONNECT (or a peer that never finishes its handshake) must not hold the
  // channel, and the frames its owner waits to send, for ever.
  host_->add_timer(config_.connect_timeout_ms, [this, ch, addr] {
    auto it = channels_.find(ch);
    if (it == channels_.end() || it->second.open) return;
    const conn_id relayed = it->second.conn;  // set once the relay answered CONNECT
    fail_channel(ch, error{errc::timeout, "relay client: dial " + addr + ": not open after " +
                                              std::to_string(config_.connect_timeout_ms) + " ms"}, true);
    if (relayed != 0 && host_->parent_of(relayed))
      host_->close(relayed, error{errc::timeout, "relayed connection not open in time"});
  });
  if (!link->established) {
    conn_waiters_[link->conn].push_back(ch);
    return ch;
  }
  // Opening the HOP stream may fail, or break the connection (on_closed runs inside it): then the dial
  // fails, and the channel the caller never saw is dropped without on_channel_closed.
  if (auto r = open_connect(link->conn, ch); !r) {
    channels_.erase(ch);
    return error{r.err().code(), "relay client: dial " + addr + ": " + r.err().message()};
  }
  return ch;
}

result<void> relay_client::open_connect(conn_id relay_conn, channel_id ch) {
  auto s = host_->open_stream(relay_conn, {std::string(relay::hop_protocol_id)});
  if (!s) return s.err();
  if (!host_->connection(relay_conn))  // opening flushed, and that closed the connection (on_closed has run)
    return error{errc::connection_closed, "connection to the relay lost"};
  stream_ctx ctx;
  ctx.r = role::hop_connect;
  ctx.ch = ch;
  streams_[{relay_conn, *s}] = std::move(ctx);
  return ok();
}

void relay_client::start_connect(conn_id relay_conn, channel_id ch) {
  if (!channels_.count(ch)) return;  // timed out while the relay connection was being made
  if (auto r = open_connect(relay_conn, ch); !r)
    fail_channel(ch, error{r.err().code(), "relay client: " + r.err().message()}, false);
}

void relay_client::on_hop_connect_reply(skey k, channel_id ch, const relay::hop_message& m, bytes rest) {
  auto it = channels_.find(ch);
  if (it == channels_.end()) {
    (void) host_->reset_stream(k.first, k.second);
    return;
  }
  if (m.type != relay::hop_message::kind::status || m.status != relay::status::ok) {
    (void) host_->reset_stream(k.first, k.second);
    return fail_channel(ch, error{errc::connection_refused,
                                  "relay refused CONNECT: " + relay::to_string(m.status.value_or(relay::status::unused))},
                        false);
  }
  dial_options opts;
  opts.expected = it->second.peer;
  auto child = host_->adopt_stream(k.first, k.second, true, opts, std::move(rest));
  if (!child) return fail_channel(ch, child.err(), false);
  if (m.limit && m.limit->data.value_or(0) > 0) circuit_budgets_[*child].limit = *m.limit->data;
  it = channels_.find(ch);
  if (it == channels_.end()) return;
  it->second.conn = *child;
  nested_waiters_[*child] = ch;
}

channel_id relay_client::add_channel(conn_id c, std::uint32_t stream, bool inbound, const peer_id& peer) {
  const channel_id ch = next_channel_++;
  channel& chan = channels_[ch];
  chan.conn = c;
  chan.stream = stream;
  chan.inbound = inbound;
  chan.open = true;
  chan.peer = peer;
  channel_of_[{c, stream}] = ch;
  return ch;
}

void relay_client::on_channel_data(channel_id ch, bytes_view data) {
  auto it = channels_.find(ch);
  if (it == channels_.end()) return;
  bytes& in = it->second.in;
  in.insert(in.end(), data.begin(), data.end());
  std::size_t pos = 0;
  std::vector<bytes> frames;
  while (pos < in.size()) {
    auto len = pb::read_varint(bytes_view(in).subspan(pos));
    if (!len) {
      if (in.size() - pos >= 10) return fail_channel(ch, error{errc::bad_frame, "aqua msg: bad length prefix"}, true);
      break;
    }
    if (len->value > config_.max_frame)
      return fail_channel(ch, error{errc::frame_too_large, "aqua msg: frame of " + std::to_string(len->value) +
                                                               " bytes exceeds " + std::to_string(config_.max_frame)},
                          true);
    if (in.size() - pos - len->length < len->value) break;
    const auto begin = in.begin() + static_cast<std::ptrdiff_t>(pos + len->length);
    frames.emplace_back(begin, begin + static_cast<std::ptrdiff_t>(len->value));
    pos += len->length + static_cast<std::size_t>(len->value);
  }
  in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(pos));
  for (auto& f : frames) {
    if (!channels_.count(ch)) return;  // closed by a callback
    if (cb_.on_frame) cb_.on_frame(ch, std::move(f));
  }
}

result<void> relay_client::send_on_loop(channel_id ch, bytes_view frame) {
  auto it = channels_.find(ch);
  if (it == channels_.end() || it->second.close_pending)
    return error{errc::connection_closed, "relay client: channel " + std::to_string(ch) + " is closed"};
  if (frame.size() > config_.max_frame)
    return error{errc::frame_too_large, "aqua msg: frame of " + std::to_string(frame.size()) + " bytes exceeds " +
                                            std::to_string(config_.max_frame)};
  channel& c = it->second;
  if (!c.out.empty() && c.out.size() + frame.size() + 10 > config_.max_channel_buffer) {
    c.want_writable = true;
    return error{errc::would_block, "relay client: channel buffer full"};
  }
  bytes f = aqua_msg_frame(frame);
  if (auto b = circuit_budgets_.find(c.conn); b != circuit_budgets_.end()) {
    // On the wire: each Noise message (<= 65535 bytes) adds a length and a tag, each yamux frame a header; the
    // handshake, identify and pings take some of the limit too.
    constexpr std::uint64_t per_chunk = 64, slack = 8192;
    const std::uint64_t wire = f.size() + (f.size() / 65519 + 1) * per_chunk;
    if (b->second.sent + wire + slack > b->second.limit)
      return error{errc::frame_too_large, "relay_v2: the relay limits this circuit to " + std::to_string(b->second.limit) +
                                            " bytes a direction (~" + std::to_string(b->second.sent) + " sent): a frame of " +
                                            std::to_string(frame.size()) + " bytes would not get through"};
    b->second.sent += wire;
  }
  const std::size_t at = c.out.size();
  c.out.resize(at + f.size());
  std::memcpy(c.out.data() + at, f.data(), f.size());
  flush_channel(ch);
  return ok();
}

void relay_client::flush_channel(channel_id ch) {
  // The host calls below may close the connection, whose on_closed erases
  // this channel: look it up again after each of them.
  auto find = [&]() -> channel* {
    auto it = channels_.find(ch);
    return it == channels_.end() ? nullptr : &it->second;
  };
  channel* c = find();
  if (!c || !c->open || c->stream == 0) return;
  if (!c->out.empty()) {
    auto n = host_->write(c->conn, c->stream, c->out);
    if (!(c = find())) return;
    if (!n) return fail_channel(ch, n.err(), true);
    c->out.erase(c->out.begin(), c->out.begin() + static_cast<std::ptrdiff_t>(*n));
  }
  if (c->out.empty() && c->close_pending && !c->fin_sent) {
    c->fin_sent = true;
    (void) host_->close_stream(c->conn, c->stream);
    if (!(c = find())) return;
    if (c->remote_closed) return finish_channel(ch);
  }
  if (c->want_writable && c->out.size() < config_.max_channel_buffer / 2) {
    c->want_writable = false;
    if (cb_.on_writable) cb_.on_writable(ch);
  }
}

void relay_client::finish_channel(channel_id ch) {
  auto it = channels_.find(ch);
  if (it == channels_.end()) return;
  const channel c = std::move(it->second);
  channels_.erase(it);
  channel_of_.erase({c.conn, c.stream});
  // A relayed connection we dialled for this channel ends with it.
  bool others = false;
  for (const auto& [id, other] : channels_) others = others || other.conn == c.conn;
  if (!c.inbound && !others && host_->parent_of(c.conn))
    host_->close(c.conn, error{errc::connection_closed, "last channel closed"});
  if (cb_.on_channel_closed) cb_.on_channel_closed(ch, error{errc::connection_closed, "channel closed"});
}

void relay_client::fail_channel(channel_id ch, const error& e, bool reset) {
  auto it = channels_.find(ch);
  if (it == channels_.end()) return;
  const channel c = std::move(it->second);
  channels_.erase(it);
  if (c.stream != 0) {
    channel_of_.erase({c.conn, c.stream});
    if (reset) (void) host_->reset_stream(c.conn, c.stream);
  }
  spdlog::debug("relay client: channel {} closed: {}", ch, e.what());
  if (cb_.on_channel_closed) cb_.on_channel_closed(ch, e);
}

void relay_client::on_stop_data(skey k, stream_ctx& ctx, bytes_view data) {
  ctx.reader.feed(data);
  auto m = ctx.reader.next();
  if (m && !*m) return;
  stream_ctx done = std::move(ctx);
  streams_.erase(k);
  auto msg = m ? relay::decode_stop(**m) : result<relay::stop_message>(m.err());
  auto answer = [&](relay::status st) {
    (void) host_->write(k.first, k.second, relay::frame(relay::encode(relay::stop_status(st))).value());
  };
  if (!msg || msg->type != relay::stop_message::kind::connect) {
    answer(msg ? relay::status::unexpected_message : relay::status::malformed_message);
    (void) host_->close_stream(k.first, k.second);
    return;
  }
  auto source = relay::peer_of(msg->peer);
  if (!source) {
    answer(relay::status::malformed_message);
    (void) host_->close_stream(k.first, k.second);
    return;
  }
  answer(relay::status::ok);
  auto child = host_->adopt_stream(k.first, k.second, false, {}, done.reader.take_rest());
  if (!child) {
    spdlog::warn("relay client: relayed connection from {} failed: {}", source->str(), child.err().what());
    return;
  }
  stop_sources_[*child] = *source;
  if (msg->limit && msg->limit->data.value_or(0) > 0) circuit_budgets_[*child].limit = *msg->limit->data;
  spdlog::debug("relay client: relayed connection {} from {}", *child, source->str());
}

} // namespace aqua::p2p
