#include "p2p/card_service.hpp"

#include <spdlog/spdlog.h>

#include "p2p/card_messages.hpp"
#include "p2p/relay_messages.hpp"

namespace aqua::p2p {
namespace {

namespace cm = cards;

cm::status status_of(const error& e) {
  switch (e.code()) {
    case errc::quota_exceeded: return cm::status::quota_exceeded;
    case errc::conflict: return cm::status::stale_card;
    case errc::bad_card:
    case errc::bad_card_signature:
    case errc::card_expired:
    case errc::unknown_version:
    case errc::wrong_recipient: return cm::status::bad_card;
    default: return cm::status::internal_error;
  }
}

// The answer of a PUBLISH that waits for the store, shared with its completion (committer thread).
struct pending_answer {
  std::mutex mu;
  std::optional<bytes> framed;
};

} // namespace

class card_stream : public stream_handler {
 public:
  card_stream(std::shared_ptr<card_service> svc, stream_context ctx, std::uint64_t id)
      : svc_(std::move(svc)), ctx_(std::move(ctx)), reader_(cm::max_message_size), id_(id) {
    svc_->streams_[id_] = this;
  }
  ~card_stream() override { svc_->streams_.erase(id_); }

  result<void> on_data(bytes_view data) override {
    if (aborted_) return ok();
    if (state_ != state::fresh) return error{errc::bad_frame, "card directory: data after the request"};
    if (!started_ms_ && !data.empty()) started_ms_ = svc_->env_->now_unix_ms();
    reader_.feed(data);
    auto raw = reader_.next();
    if (!raw) return answer(cm::status_message(cm::status::malformed_message, raw.err().message()));
    if (!*raw) return ok();  // need more
    if (reader_.buffered() != 0) return answer(cm::status_message(cm::status::unexpected_message, "one request per stream"));
    auto msg = cm::decode(**raw);
    if (!msg) return answer(cm::status_message(cm::status::malformed_message, msg.err().message()));
    switch (msg->type) {
      case cm::message::kind::lookup: return lookup(*msg);
      case cm::message::kind::publish: return publish(*msg);
      default:
        return answer(cm::status_message(cm::status::unexpected_message,
                                         std::string(cm::to_string(msg->type)) + " is no request"));
    }
  }
  void on_remote_closed() override {
    if (state_ == state::fresh) state_ = state::done;  // nothing asked
  }
  bytes take_output() override {
    if (state_ == state::storing) {
      std::lock_guard<std::mutex> g(pending_->mu);
      if (pending_->framed) {
        out_ = std::move(*pending_->framed);
        state_ = state::done;
      }
    }
    return std::exchange(out_, {});
  }
  bool finished() const override { return state_ == state::done; }
  bool aborted() const override { return aborted_; }

  // Loop thread (reap): resets the stream when its request started before `deadline_ms` and is not whole.
  bool reap(std::int64_t deadline_ms) {
    if (aborted_ || state_ != state::fresh || !started_ms_ || *started_ms_ > deadline_ms) return false;
    spdlog::debug("card directory: stream from {}: a request still incomplete after {} ms ({} bytes), resetting",
                  ctx_.remote.str(), svc_->incomplete_timeout_ms_, reader_.buffered());
    aborted_ = true;
    reader_ = relay::delimited_reader(cm::max_message_size);  // its bytes go now, not with the stream
    ctx_.wake();
    return true;
  }

 private:
  enum class state : std::uint8_t { fresh, storing, done };

  result<void> answer(const cm::message& m) {
    out_ = cm::frame(m).value();  // answers are far below the bound
    state_ = state::done;
    return ok();
  }

  result<void> lookup(const cm::message& m) {
    auto peer = peer_id::from_bytes(m.peer);
    if (!peer) return answer(cm::status_message(cm::status::malformed_message, "LOOKUP peer: " + peer.err().message()));
    auto card = svc_->directory_->get(*peer, svc_->env_->now_unix_ms());
    if (!card) {
      spdlog::warn("card directory: lookup of {} failed: {}", peer->str(), card.err().what());
      return answer(cm::status_message(cm::status::internal_error, "the card could not be read"));
    }
    if (!*card) return answer(cm::status_message(cm::status::not_found, "no card for " + peer->str()));
    return answer(cm::card_message(std::move(**card)));
  }

  result<void> publish(const cm::message& m) {
    if (!ctx_.reserved)
      return answer(cm::status_message(cm::status::refused, "publishing a card needs a reservation on this relay"));
    state_ = state::storing;
    pending_ = std::make_shared<pending_answer>();
    auto answered = [pending = pending_, post = svc_->post_, wake = ctx_.wake, who = ctx_.remote.str()](result<void> r) {
      // The client prefixes "card directory: <STATUS>: " itself (cards::to_error).
      std::string why = r ? std::string() : r.err().message();
      if (constexpr std::string_view ours = "card directory: "; why.rfind(ours, 0) == 0)
        why.erase(0, ours.size());
      auto reply = r ? cm::status_message(cm::status::ok)
                     : cm::status_message(status_of(r.err()), std::move(why));
      if (r) spdlog::debug("card directory: card of {} kept", who);
      else spdlog::info("card directory: card of {} refused: {}", who, r.err().what());
      {
        std::lock_guard<std::mutex> g(pending->mu);
        pending->framed = cm::frame(reply).value();
      }
      std::lock_guard<std::mutex> g(post->mu);
      if (post->post) (void) post->post(wake);
    };
    svc_->directory_->put(ctx_.remote, m.card, svc_->env_->now_unix_ms(), std::move(answered));
    return ok();
  }

  std::shared_ptr<card_service> svc_;  // its directory, clock and poster
  stream_context ctx_;
  relay::delimited_reader reader_;
  std::uint64_t id_;
  state state_ = state::fresh;
  bool aborted_ = false;
  std::optional<std::int64_t> started_ms_;  // the request's first byte
  bytes out_;
  std::shared_ptr<pending_answer> pending_;
};

std::shared_ptr<card_service> card_service::create(std::shared_ptr<store::card_directory> directory,
                                                   std::shared_ptr<env> e, post_fn post,
                                                   std::int64_t incomplete_timeout_ms) {
  return std::shared_ptr<card_service>(
    new card_service(std::move(directory), std::move(e), std::move(post), incomplete_timeout_ms));
}

card_service::card_service(std::shared_ptr<store::card_directory> directory, std::shared_ptr<env> e, post_fn post,
                           std::int64_t incomplete_timeout_ms)
    : directory_(std::move(directory)), env_(std::move(e)), incomplete_timeout_ms_(incomplete_timeout_ms) {
  post_->post = std::move(post);
}

card_service::~card_service() {
  std::lock_guard<std::mutex> g(post_->mu);
  post_->post = nullptr;
}

stream_service card_service::service() {
  std::weak_ptr<card_service> weak = weak_from_this();
  return stream_service{std::string(cards::protocol_id), [weak](stream_context ctx) -> std::unique_ptr<stream_handler> {
                          auto svc = weak.lock();
                          if (!svc) return nullptr;
                          const auto id = svc->next_stream_++;
                          return std::make_unique<card_stream>(std::move(svc), std::move(ctx), id);
                        }};
}

std::size_t card_service::reap() {
  const std::int64_t deadline = env_->now_unix_ms() - incomplete_timeout_ms_;
  std::size_t n = 0;
  for (auto& [id, stream] : streams_) n += stream->reap(deadline);  // reap() only wakes: streams_ stays as is
  return n;
}

std::size_t card_service::sweep() {
  const auto now = env_->now_unix_ms();
  std::size_t n = 0;
  for (std::size_t k = 1024; k == 1024;) n += k = directory_->expire(now, 1024);  // all of them: they count in the quota
  if (n) spdlog::info("card directory: {} expired card(s) dropped", n);
  return n;
}

} // namespace aqua::p2p
