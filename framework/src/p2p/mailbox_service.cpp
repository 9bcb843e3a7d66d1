// mailbox_service: DEPOSIT and FETCH streams of /aqua/mailbox/1.0.0 on a relay.
#include "p2p/mailbox_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <set>

#include "p2p/mailbox_messages.hpp"
#include "p2p/relay_messages.hpp"

namespace aqua::p2p {

namespace mb = mailbox;

class mailbox_stream final : public stream_handler {
 public:
  mailbox_stream(std::shared_ptr<mailbox_service> svc, stream_context ctx, std::uint64_t id)
      : svc_(std::move(svc)), ctx_(std::move(ctx)), id_(id), peer_(ctx_.remote.str()),
        reader_(mb::max_message_size) {}

  ~mailbox_stream() override {
    svc_->streams_.erase(id_);
    unregister_fetcher();
    count_incomplete(0);
  }

  result<void> on_data(bytes_view data) override {
    if (finished_ || aborted_) return ok();
    reader_.feed(data);
    bool completed = false;
    while (!finished_) {
      auto raw = reader_.next();
      if (!raw) {
        const bool big = raw.err().code() == errc::frame_too_large;
        fail(big ? mb::status::too_large : mb::status::malformed_message, raw.err().message());
        break;
      }
      if (!*raw) break;
      completed = true;
      auto m = mb::decode(**raw);
      if (!m) {
        fail(mb::status::malformed_message, m.err().message());
        break;
      }
      handle(*m);
    }
    return track_incomplete(completed);
  }

  bool aborted() const override { return aborted_; }

  // Loop thread (reap): resets the stream when its started message is older than `deadline_ms`.
  bool reap(std::int64_t deadline_ms) {
    if (aborted_ || !incomplete_since_ || *incomplete_since_ > deadline_ms) return false;
    spdlog::debug("mailbox: stream from {}: a message still incomplete after {} ms ({} bytes), resetting", peer_,
                  svc_->config_.incomplete_timeout_ms, reader_.buffered());
    abort();
    ctx_.wake();
    return true;
  }

  void on_remote_closed() override {
    remote_closed_ = true;
    if (mode_ != mode::deposit) finished_ = true;
  }

  bytes take_output() override {
    if (mode_ == mode::fetch && dirty_ && !finished_) fill();
    return std::exchange(out_, {});
  }

  bool finished() const override { return finished_ || (remote_closed_ && answers_.empty()); }

  // Loop thread (posted by held_mail's callback): the deposit in `slot` is decided.
  void complete(std::uint64_t slot, mb::status st, std::string text) {
    for (auto& a : answers_)
      if (a.slot == slot) a.answer = mb::status_message(st, std::move(text));
    while (!answers_.empty() && answers_.front().answer) {
      append(*answers_.front().answer);
      answers_.pop_front();
    }
    ctx_.wake();
  }

  void new_mail() {
    dirty_ = true;
    ctx_.wake();
  }

 private:
  enum class mode : std::uint8_t { fresh, deposit, fetch };
  struct pending_answer {
    std::uint64_t slot = 0;
    std::optional<mb::message> answer;
  };

  // After on_data parsed what it could: frees the reader when it holds nothing (and compacts it when a
  // message completed, so parsed bytes do not linger), counts what stays buffered for the service, and
  // fails (the server resets the stream) when that takes this peer or the relay past its bound.
  result<void> track_incomplete(bool completed) {
    if (finished_ || reader_.buffered() == 0) {
      reader_ = relay::delimited_reader(mb::max_message_size);
    } else if (completed) {
      bytes rest = reader_.take_rest();
      reader_ = relay::delimited_reader(mb::max_message_size);
      reader_.feed(rest);
    }
    const std::size_t now = reader_.buffered();
    if (now == 0) incomplete_since_.reset();
    else if (completed || !incomplete_since_) incomplete_since_ = svc_->env_->now_unix_ms();
    count_incomplete(now);
    const auto& cfg = svc_->config_;
    const std::size_t of_peer = now == 0 ? 0 : svc_->incomplete_.of(peer_);
    const bool over_total = svc_->incomplete_.total > cfg.max_incomplete_bytes_total;
    if (now == 0 || (of_peer <= cfg.max_incomplete_bytes_per_peer && !over_total)) return ok();
    const std::string why = over_total
                                ? std::to_string(svc_->incomplete_.total) + " bytes of incomplete messages in all"
                                : std::to_string(of_peer) + " bytes of incomplete messages from this peer";
    abort();
    return error{errc::quota_exceeded, "mailbox: stream from " + peer_ + ": " + why};
  }

  // Keeps the service's totals in step with `now` bytes buffered on this stream.
  void count_incomplete(std::size_t now) {
    if (now == counted_) return;
    if (now > counted_) svc_->incomplete_.add(peer_, now - counted_);
    else svc_->incomplete_.remove(peer_, counted_ - now);
    counted_ = now;
  }

  // Gives up on the stream at once: drops what it buffered; the server resets it.
  void abort() {
    aborted_ = finished_ = true;
    out_.clear();
    reader_ = relay::delimited_reader(mb::max_message_size);
    incomplete_since_.reset();
    count_incomplete(0);
    unregister_fetcher();
  }

  void append(const mb::message& m) {
    auto f = mb::frame(m);
    if (f) out_.insert(out_.end(), f->begin(), f->end());
  }

  void fail(mb::status st, std::string text) {
    spdlog::debug("mailbox: stream from {}: {} {}", peer_, mb::to_string(st), text);
    append(mb::status_message(st, std::move(text)));
    finished_ = true;
    unregister_fetcher();
  }

  void handle(mb::message& m) {
    using k = mb::message::kind;
    if (mode_ == mode::fresh && m.type == k::deposit) mode_ = mode::deposit;
    if (mode_ == mode::fresh && m.type == k::fetch) return start_fetch();
    if (mode_ == mode::deposit && m.type == k::deposit) return deposit(m);
    if (mode_ == mode::fetch && m.type == k::ack) return acknowledge(m.ids);
    fail(mb::status::unexpected_message, std::string(mb::to_string(m.type)) + " is not expected here");
  }

  void deposit(mb::message& m) {
    if (answers_.size() >= svc_->config_.max_pending_deposits)
      return fail(mb::status::unexpected_message, "more than " + std::to_string(answers_.size()) +
                                                      " unanswered deposits");
    const std::uint64_t slot = next_slot_++;
    answers_.push_back({slot, std::nullopt});
    auto recipient = peer_id::from_bytes(m.recipient);
    if (!recipient) return complete(slot, mb::status::refused, "recipient is not an Ed25519 peer ID");
    // The envelope waits in memory until the store answers: bounded per depositor and in all.
    const std::size_t size = m.envelope.size();
    auto& cfg = svc_->config_;
    const std::size_t of_peer = svc_->storing_.of(peer_);
    if (of_peer + size > cfg.max_storing_bytes_per_peer)
      return complete(slot, mb::status::quota_exceeded,
                      "the relay is still storing " + std::to_string(of_peer) + " bytes of this peer's deposits; " +
                          std::to_string(size) + " more would pass its bound of " +
                          std::to_string(cfg.max_storing_bytes_per_peer) + ": deposit again once they are answered");
    if (svc_->storing_.total + size > cfg.max_storing_bytes_total)
      return complete(slot, mb::status::quota_exceeded,
                      "the relay is still storing " + std::to_string(svc_->storing_.total) + " bytes of deposits; " +
                          std::to_string(size) + " more would pass its bound of " +
                          std::to_string(cfg.max_storing_bytes_total) + ": deposit again later");
    svc_->storing_.add(peer_, size);
    std::weak_ptr<mailbox_service> weak = svc_;
    const std::uint64_t id = id_;
    const std::string to = recipient->str();
    svc_->mail_->put(*recipient, m.envelope, m.ttl_s.value_or(0), svc_->env_->now_unix_ms(), ctx_.remote,
                     [weak, poster = svc_->post_, id, slot, to, from = peer_, size](result<store::put_outcome> r) {
                       // Any thread (the committer's): only post; the service is looked up on the loop.
                       std::lock_guard<std::mutex> g(poster->mu);
                       if (!poster->post) return;
                       poster->post([weak, id, slot, to, from, size, r = std::move(r)]() {
                         auto s = weak.lock();
                         if (!s) return;
                         s->stored(from, size);
                         if (r && *r == store::put_outcome::stored) s->notify(to);
                         auto it = s->streams_.find(id);
                         if (it == s->streams_.end()) return;
                         if (r) return it->second->complete(slot, mb::status::ok, {});
                         it->second->complete(slot, status_of(r.err().code()), r.err().message());
                       });
                     });
  }

  static mb::status status_of(errc e) {
    switch (e) {
      case errc::quota_exceeded: return mb::status::quota_exceeded;
      case errc::frame_too_large: return mb::status::too_large;
      case errc::message_expired: return mb::status::expired;
      case errc::bad_envelope:
      case errc::unknown_version: return mb::status::bad_envelope;
      default: return mb::status::internal_error;
    }
  }

  void start_fetch() {
    if (svc_->fetchers_.size() >= svc_->config_.max_fetch_streams)
      return fail(mb::status::refused, "too many fetch streams");
    if (svc_->fetchers_.count(peer_) >= svc_->config_.max_fetch_streams_per_peer)
      return fail(mb::status::refused, "too many fetch streams from this peer");
    mode_ = mode::fetch;
    svc_->fetchers_.emplace(peer_, id_);
    registered_ = true;
    dirty_ = true;
  }

  void unregister_fetcher() {
    if (!registered_) return;
    registered_ = false;
    auto [b, e] = svc_->fetchers_.equal_range(peer_);
    for (auto it = b; it != e; ++it)
      if (it->second == id_) {
        svc_->fetchers_.erase(it);
        break;
      }
  }

  void acknowledge(const std::vector<std::uint64_t>& ids) {
    for (auto id : ids)
      if (auto it = inflight_.find(id); it != inflight_.end()) {
        inflight_bytes_ -= it->second;
        inflight_.erase(it);
      }
    // Only the remote peer's own mail: held_mail looks the ids up under its peer ID.
    auto n = svc_->mail_->ack(ctx_.remote, ids);
    if (!n) return fail(mb::status::internal_error, n.err().message());
    dirty_ = true;
  }

  // Sends the peer's mail after the cursor while the window has room. Mail past its expiry waits for the next
  // sweep (expire()) to go, but is not handed out meanwhile (the recipient would only reject it): skipping it
  // moves the cursor, and a listing that held expired mail is followed by another.
  void fill() {
    dirty_ = false;
    const std::int64_t now = svc_->env_->now_unix_ms();
    std::vector<mb::mail_item> batch;
    std::size_t batch_size = 0;
    for (int round = 0; round < 64; ++round) {
      auto skipped = fill_from_store(now, batch, batch_size);
      if (!skipped) return;  // failed (the stream is gone)
      if (*skipped == 0) break;
    }
    if (!batch.empty()) append(mb::mail(std::move(batch)));
  }

  // One listing into `batch` (appending full mail messages as it goes): how many expired envelopes it skipped;
  // nullopt when the store failed (the stream failed with it).
  std::optional<std::size_t> fill_from_store(std::int64_t now, std::vector<mb::mail_item>& batch, std::size_t& batch_size) {
    const auto& cfg = svc_->config_;
    if (inflight_.size() >= cfg.window_messages || inflight_bytes_ >= cfg.window_bytes) return 0;
    auto items = svc_->mail_->list(ctx_.remote, cursor_, cfg.window_messages - inflight_.size(),
                                   cfg.window_bytes - inflight_bytes_);
    if (!items) {
      fail(mb::status::internal_error, items.err().message());
      return std::nullopt;
    }
    std::size_t skipped = 0;
    for (auto& h : *items) {
      cursor_ = h.id;
      if (h.expires_ms <= now) {
        ++skipped;
        continue;
      }
      bytes depositor;  // empty for mail held before depositors were recorded
      if (auto who = peer_id::parse(h.depositor)) depositor = who->to_bytes();
      const std::size_t add = mb::mail_item_overhead(h.envelope.size(), depositor.size()) + h.envelope.size();
      if (!batch.empty() && (batch.size() >= mb::max_mail_per_message || batch_size + add + 8 > mb::max_message_size)) {
        append(mb::mail(std::move(batch)));
        batch.clear();
        batch_size = 0;
      }
      inflight_[h.id] = h.envelope.size();
      inflight_bytes_ += h.envelope.size();
      batch_size += add;
      batch.push_back({h.id, std::move(h.envelope), std::move(depositor)});
    }
    return skipped;
  }

  std::shared_ptr<mailbox_service> svc_;
  stream_context ctx_;
  std::uint64_t id_;
  std::string peer_;
  relay::delimited_reader reader_;
  mode mode_ = mode::fresh;
  bytes out_;
  bool finished_ = false, remote_closed_ = false, registered_ = false, dirty_ = false, aborted_ = false;
  std::size_t counted_ = 0;                        // reader bytes counted in the service's incomplete totals
  std::optional<std::int64_t> incomplete_since_;   // when the message the reader holds started (unix ms)
  std::deque<pending_answer> answers_;  // deposits in arrival order
  std::uint64_t next_slot_ = 1;
  std::uint64_t cursor_ = 0;                       // highest id sent on this stream
  std::map<std::uint64_t, std::size_t> inflight_;  // sent, not acknowledged: id -> bytes
  std::size_t inflight_bytes_ = 0;
};

std::shared_ptr<mailbox_service> mailbox_service::create(std::shared_ptr<store::held_mail> mail,
                                                         std::shared_ptr<env> e, post_fn post,
                                                         mailbox_service_config config) {
  return std::shared_ptr<mailbox_service>(new mailbox_service(std::move(mail), std::move(e), std::move(post), config));
}

mailbox_service::mailbox_service(std::shared_ptr<store::held_mail> mail, std::shared_ptr<env> e, post_fn post,
                                 mailbox_service_config config)
    : mail_(std::move(mail)), env_(std::move(e)), config_(config) {
  post_->post = std::move(post);
}

mailbox_service::~mailbox_service() {
  std::lock_guard<std::mutex> g(post_->mu);
  post_->post = nullptr;
}

stream_service mailbox_service::service() {
  std::weak_ptr<mailbox_service> weak = weak_from_this();
  return stream_service{std::string(mb::protocol_id), [weak](stream_context ctx) -> std::unique_ptr<stream_handler> {
                          auto svc = weak.lock();
                          if (!svc) return nullptr;
                          return svc->open(std::move(ctx));
                        }};
}

std::unique_ptr<stream_handler> mailbox_service::open(stream_context ctx) {
  const std::uint64_t id = next_stream_++;
  auto h = std::make_unique<mailbox_stream>(shared_from_this(), std::move(ctx), id);
  streams_[id] = h.get();
  return h;
}

void mailbox_service::notify(const std::string& recipient) {
  auto [b, e] = fetchers_.equal_range(recipient);
  std::vector<std::uint64_t> ids;
  for (auto it = b; it != e; ++it) ids.push_back(it->second);
  for (auto id : ids)
    if (auto it = streams_.find(id); it != streams_.end()) it->second->new_mail();
}

void mailbox_service::stored(const std::string& depositor, std::size_t bytes) {
  storing_.remove(depositor, bytes);
}

std::size_t mailbox_service::reap() {
  const std::int64_t deadline = env_->now_unix_ms() - config_.incomplete_timeout_ms;
  std::size_t n = 0;
  for (auto& [id, stream] : streams_) n += stream->reap(deadline);  // reap() only wakes: streams_ stays as is
  return n;
}

std::size_t mailbox_service::sweep() {
  auto n = mail_->expire(env_->now_unix_ms());
  if (!n) {
    spdlog::warn("mailbox: expiry sweep failed: {}", n.err().what());
    return 0;
  }
  if (*n) spdlog::info("mailbox: {} held envelopes expired", *n);
  return *n;
}

} // namespace aqua::p2p
