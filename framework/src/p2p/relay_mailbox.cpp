// relay_client: the network mailbox client (docs/protocol/mailbox.md):
// DEPOSIT to a relay's mailbox, and a FETCH stream on every reservation
// connection whose envelopes go to on_held and are acknowledged after done(ok).
// Requests (one message out, one answer back on a stream of their own) serve
// the deposits and the card directory (relay_cards.cpp).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/terminal_text.hpp"
#include "p2p/mailbox_messages.hpp"
#include "p2p/relay_client.hpp"

namespace aqua::p2p {

namespace mb = mailbox;

namespace {

// Calls `done` exactly once: with the result, or with not_running when
// dropped uncalled (a command the stopped loop never ran).
class once_done {
 public:
  explicit once_done(std::function<void(result<void>)> done) : done_(std::move(done)) {}
  ~once_done() {
    if (done_) done_(error{errc::not_running, "relay client: stopped"});
  }
  std::function<void(result<void>)> take() { return std::exchange(done_, {}); }

 private:
  std::function<void(result<void>)> done_;
};

} // namespace

void relay_client::deposit(const std::string& addr, bytes frame, std::uint32_t ttl_s,
                           std::function<void(result<void>)> done) {
  if (host_->on_loop_thread()) return deposit_on_loop(addr, std::move(frame), ttl_s, std::move(done));
  auto once = std::make_shared<once_done>(std::move(done));
  (void) host_->post([this, addr, frame = std::move(frame), ttl_s, once]() mutable {
    deposit_on_loop(addr, std::move(frame), ttl_s, once->take());
  });
}

void relay_client::deposit_on_loop(const std::string& addr, bytes frame, std::uint32_t ttl_s,
                                   std::function<void(result<void>)> done) {
  constexpr std::string_view marker = "/p2p-circuit/p2p/";
  const auto at = addr.find(marker);
  if (at == std::string::npos)
    return done(error{errc::not_supported, "relay client: no mailbox behind a non-circuit address: " + addr});
  auto ep = parse_relay(addr.substr(0, at));
  if (!ep) return done(ep.err());
  auto recipient = peer_id::parse(addr.substr(at + marker.size()));
  if (!recipient)
    return done(error{recipient.err().code(), "relay client: " + addr + ": " + recipient.err().message()});
  if (frame.empty() || frame.size() > mb::max_envelope_size)
    return done(error{errc::frame_too_large, "mailbox: envelope of " + std::to_string(frame.size()) +
                                                 " bytes (1.." + std::to_string(mb::max_envelope_size) + ")"});
  auto framed = mb::frame(mb::deposit(recipient->to_bytes(), std::move(frame), ttl_s));
  if (!framed) return done(framed.err());
  request_op op;
  op.protocol = std::string(mb::protocol_id);
  op.service = "mailbox";
  op.max_answer = mb::max_message_size;
  op.out = std::move(*framed);
  op.done = [done = std::move(done)](result<bytes> answer) {
    if (!answer) return done(answer.err());
    auto msg = mb::decode(*answer);
    if (!msg) return done(error{errc::bad_frame, "mailbox: bad answer: " + msg.err().message()});
    if (msg->type != mb::message::kind::status || !msg->status)
      return done(error{errc::bad_frame, "mailbox: answer is not a STATUS"});
    done(mb::to_result(*msg->status, msg->text));
  };
  request(*ep, std::move(op), config_.deposit_timeout_ms);
}

void relay_client::request(const relay_ep& ep, request_op op, std::int64_t timeout_ms) {
  if (requests_.size() >= config_.max_deposits)
    return op.done(error{errc::would_block, "relay client: " + std::to_string(requests_.size()) + " requests in flight"});
  const std::uint64_t id = next_request_++;
  request_op& r = requests_[id] = std::move(op);
  r.timer = host_->add_timer(timeout_ms, [this, id, timeout_ms] {
    if (auto it = requests_.find(id); it != requests_.end()) {
      it->second.timer = 0;
      const std::string service = it->second.service;
      finish_request(id, error{errc::timeout, service + ": no answer within " + std::to_string(timeout_ms) + " ms"});
    }
  });
  // The relay's connection (reservation, earlier dial or request) or a new one.
  auto link = link_to(ep);
  if (!link) return finish_request(id, link.err());
  if (link->established) return start_request(link->conn, id);
  requests_[id].conn = link->conn;
  request_waiters_[link->conn].push_back(id);
}

void relay_client::start_request(conn_id relay_conn, std::uint64_t op) {
  auto it = requests_.find(op);
  if (it == requests_.end()) return;
  it->second.conn = relay_conn;
  auto s = host_->open_stream(relay_conn, {it->second.protocol});
  if (!s) return finish_request(op, s.err());
  it = requests_.find(op);  // opening flushes, which may close the connection and with it finish this request
  if (it == requests_.end()) return;
  it->second.stream = *s;
  stream_ctx ctx;
  ctx.r = role::request;
  ctx.ch = op;
  ctx.reader = relay::delimited_reader(it->second.max_answer);
  streams_[{relay_conn, *s}] = std::move(ctx);
}

void relay_client::flush_request(std::uint64_t op) {
  auto it = requests_.find(op);
  if (it == requests_.end() || it->second.stream == 0) return;
  if (it->second.out.empty()) return;
  auto n = host_->write(it->second.conn, it->second.stream, it->second.out);
  it = requests_.find(op);  // the write may have closed the connection, and with it this request
  if (it == requests_.end()) return;
  if (!n) return finish_request(op, n.err());
  request_op& d = it->second;
  d.out.erase(d.out.begin(), d.out.begin() + static_cast<std::ptrdiff_t>(*n));
  if (d.out.empty()) (void) host_->close_stream(d.conn, d.stream);  // one request per stream
}

void relay_client::finish_request(std::uint64_t op, result<bytes> r) {
  auto it = requests_.find(op);
  if (it == requests_.end()) return;
  request_op d = std::move(it->second);
  requests_.erase(it);
  host_->cancel_timer(d.timer);
  if (d.stream != 0 && streams_.erase({d.conn, d.stream})) {
    if (r) (void) host_->close_stream(d.conn, d.stream);
    else (void) host_->reset_stream(d.conn, d.stream);
  }
  if (!r) spdlog::debug("relay client: {} request failed: {}", d.service, r.err().what());
  d.done(std::move(r));
}

void relay_client::start_fetch(conn_id relay_conn) {
  if (!config_.fetch_mail || !cb_.on_held || relay_conn == 0) return;
  if (fetches_[relay_conn].stream != 0) return;  // one per connection
  auto s = host_->open_stream(relay_conn, {std::string(mb::protocol_id)});
  if (!s) {
    spdlog::warn("relay client: cannot open a mailbox fetch stream: {}", s.err().what());
    return;
  }
  // Opening flushes, which may close the connection: on_closed then erased its fetch_state.
  auto it = fetches_.find(relay_conn);
  if (it == fetches_.end()) return;
  it->second.stream = *s;
  it->second.open = false;
  stream_ctx ctx;
  ctx.r = role::mb_fetch;
  ctx.reader = relay::delimited_reader(mb::max_message_size);
  streams_[{relay_conn, *s}] = std::move(ctx);
}

void relay_client::flush_acks(conn_id relay_conn) {
  // A write may close the connection, whose on_closed erases its fetch_state: look it up every round.
  for (;;) {
    auto it = fetches_.find(relay_conn);
    if (it == fetches_.end() || !it->second.open || it->second.acks.empty()) return;
    fetch_state& fs = it->second;
    const std::size_t n = std::min(fs.acks.size(), mb::max_ack_ids);
    std::vector<std::uint64_t> ids(fs.acks.begin(), fs.acks.begin() + static_cast<std::ptrdiff_t>(n));
    fs.acks.erase(fs.acks.begin(), fs.acks.begin() + static_cast<std::ptrdiff_t>(n));
    // A short write can only cut an ACK when the stream is far behind; the relay then re-sends those envelopes.
    (void) host_->write(relay_conn, fs.stream, mb::frame(mb::ack(std::move(ids))).value());
  }
}

void relay_client::on_mailbox_event(skey k, stream_ctx& ctx, p2p_event& ev) {
  const bool fetch = ctx.r == role::mb_fetch;
  const std::uint64_t op = ctx.ch;
  switch (ev.kind) {
    case p2p_event_kind::stream_opened:
      if (!fetch) return flush_request(op);
      if (auto it = fetches_.find(k.first); it != fetches_.end() && it->second.stream == k.second) {
        it->second.open = true;
        (void) host_->write(k.first, k.second, mb::frame(mb::fetch()).value());
        flush_acks(k.first);
      }
      return;
    case p2p_event_kind::writable:
      if (!fetch) flush_request(op);
      return;
    case p2p_event_kind::stream_data:
      if (fetch) return on_mail(k, ev.data);
      ctx.reader.feed(ev.data);
      if (auto m = ctx.reader.next(); !m || *m) {
        if (!m) {
          auto it = requests_.find(op);
          const std::string what = it == requests_.end() ? std::string("relay") : it->second.service;
          return finish_request(op, error{m.err().code(), what + ": bad answer: " + m.err().message()});
        }
        return finish_request(op, std::move(**m));
      }
      return;
    case p2p_event_kind::stream_closed:
    case p2p_event_kind::stream_reset: {
      const bool refused = ev.reason.rfind("protocol negotiation failed", 0) == 0;
      if (!fetch) {
        auto it = requests_.find(op);
        if (it == requests_.end()) return;
        const std::string& what = it->second.service;
        return finish_request(op, refused ? error{errc::not_supported, what + ": the relay has no " + what + " (" +
                                                                           ev.reason + ")"}
                                          : error{errc::connection_closed, what + ": stream ended without an answer"});
      }
      streams_.erase(k);
      (void) host_->reset_stream(k.first, k.second);
      if (auto it = fetches_.find(k.first); it != fetches_.end() && it->second.stream == k.second) {
        it->second.stream = 0;
        it->second.open = false;
        if (refused) {
          auto* conn = host_->connection(k.first);
          spdlog::info("relay client: relay {} has no mailbox ({})", conn ? conn->remote_peer().str() : std::string("?"),
                       ev.reason);
        }
        else retry_fetch(k.first);  // the relay ended it: fetch again later
      }
      return;
    }
    default: return;
  }
}

void relay_client::on_mail(skey k, bytes_view data) {
  auto sit = streams_.find(k);
  auto fit = fetches_.find(k.first);
  if (sit == streams_.end() || fit == fetches_.end()) return;
  sit->second.reader.feed(data);
  for (;;) {
    auto raw = sit->second.reader.next();
    if (raw && !*raw) return;  // need more
    auto msg = raw ? mb::decode(**raw) : result<mb::message>(raw.err());
    if (!msg || msg->type != mb::message::kind::mail) {
      // Typically STATUS REFUSED (the relay's fetch streams are all taken): the held mail stays there, so
      // fetch again later, as when the relay ends the stream; say what the relay said.
      std::string what = !msg ? msg.err().what() : std::string(mb::to_string(msg->type));
      if (msg && msg->status)
        what += " " + mb::to_string(*msg->status) + (msg->text.empty() ? "" : " (" + terminal_text(msg->text) + ")");
      spdlog::warn("relay client: mailbox fetch answered {}; fetching again in {} ms", what, config_.retry_ms);
      fit->second.stream = 0;
      fit->second.open = false;
      streams_.erase(sit);
      const conn_id c = k.first;
      (void) host_->reset_stream(c, k.second);  // may close the connection (on_closed erases its fetch_state)
      return retry_fetch(c);
    }
    for (auto& item : msg->mail) {
      auto& f = fit->second;
      if (f.handed.count(item.id)) continue;  // still with on_held from an earlier stream
      // A relay keeps at most a window of mail unacknowledged per stream (mailbox.md): one that sends past it
      // (twice the window, for mail still handed from an earlier stream) would fill our memory with envelopes
      // on_held has not finished. Reset the stream; what we hold is finished and acked, the rest comes again.
      if (f.handed.size() >= 2 * mb::window_messages ||
          f.handed_bytes + item.envelope.size() > 2 * (mb::window_bytes + mb::max_message_size)) {
        spdlog::warn("relay client: relay {} sent mail past its window ({} envelopes, {} bytes unacknowledged); "
                     "resetting the fetch stream, fetching again in {} ms",
                     host_->connection(k.first) ? host_->connection(k.first)->remote_peer().str() : std::string("?"),
                     f.handed.size(), f.handed_bytes, config_.retry_ms);
        f.stream = 0;
        f.open = false;
        streams_.erase(sit);
        const conn_id c = k.first;
        (void) host_->reset_stream(c, k.second);  // may close the connection (on_closed erases its fetch_state)
        return retry_fetch(c);
      }
      f.handed.emplace(item.id, item.envelope.size());
      f.handed_bytes += item.envelope.size();
      std::weak_ptr<mailbox_guard> weak = guard_;
      const conn_id c = k.first;
      const std::uint64_t id = item.id;
      peer_id depositor;  // a hint only: anything that is not a peer ID is no hint
      if (auto who = peer_id::from_bytes(item.depositor)) depositor = *who;  // empty: an error, so no hint
      cb_.on_held(std::move(item.envelope), depositor, [weak, this, c, id](result<void> r) {
        auto g = weak.lock();
        if (!g) return;
        std::lock_guard<std::mutex> lock(g->mu);
        if (g->host) (void) g->host->post([this, c, id, r = std::move(r)] { held_done(c, id, r); });
      });
      // on_held may have run done and a callback may have changed the maps: look them up again.
      sit = streams_.find(k);
      fit = fetches_.find(k.first);
      if (sit == streams_.end() || fit == fetches_.end()) return;
    }
  }
}

void relay_client::held_done(conn_id relay_conn, std::uint64_t id, const result<void>& r) {
  auto it = fetches_.find(relay_conn);
  if (it == fetches_.end()) return;  // connection gone: the relay keeps it and sends it again
  if (auto h = it->second.handed.find(id); h != it->second.handed.end()) {
    it->second.handed_bytes -= h->second;
    it->second.handed.erase(h);
  }
  if (r) {
    if (it->second.acks.size() < config_.max_pending_acks) it->second.acks.push_back(id);
    return flush_acks(relay_conn);
  }
  spdlog::warn("relay client: held envelope {} not taken ({}); fetching it again in {} ms", id, r.err().what(),
               config_.retry_ms);
  if (const std::uint32_t stream = std::exchange(it->second.stream, 0); stream != 0) {
    it->second.open = false;
    streams_.erase({relay_conn, stream});
    (void) host_->reset_stream(relay_conn, stream);
    // The reset may close the connection, whose on_closed erases its fetch_state (and cancels the retry).
    it = fetches_.find(relay_conn);
    if (it == fetches_.end()) return;
  }
  retry_fetch(relay_conn);
}

void relay_client::retry_fetch(conn_id relay_conn) {
  auto it = fetches_.find(relay_conn);
  if (it == fetches_.end() || it->second.retry) return;
  it->second.retry = host_->add_timer(config_.retry_ms, [this, relay_conn] {
    if (auto f = fetches_.find(relay_conn); f != fetches_.end()) {
      f->second.retry = 0;
      start_fetch(relay_conn);
    }
  });
}

void relay_client::mailbox_conn_up(conn_id c) {
  auto it = request_waiters_.find(c);
  if (it == request_waiters_.end()) return;
  auto ops = std::move(it->second);
  request_waiters_.erase(it);
  for (auto op : ops) start_request(c, op);
}

void relay_client::mailbox_conn_gone(conn_id c, const error& e) {
  std::vector<std::uint64_t> dead;
  if (auto it = request_waiters_.find(c); it != request_waiters_.end()) {
    dead = std::move(it->second);
    request_waiters_.erase(it);
  }
  for (const auto& [op, d] : requests_)
    if (d.conn == c) dead.push_back(op);
  for (auto op : dead)
    if (auto it = requests_.find(op); it != requests_.end())
      finish_request(op, error{errc::connection_closed,
                               it->second.service + ": connection to the relay lost: " + e.what()});
  if (auto it = fetches_.find(c); it != fetches_.end()) {
    host_->cancel_timer(it->second.retry);
    fetches_.erase(it);
  }
}

} // namespace aqua::p2p
