// relay_client: the card directory client (docs/protocol/card-directory.md):
// our card PUBLISHed on every reservation connection, and LOOKUPs of a
// peer's card on every configured relay.
#include <spdlog/spdlog.h>

#include "e2ee/card.hpp"
#include "p2p/card_messages.hpp"
#include "p2p/relay_client.hpp"

namespace aqua::p2p {

namespace cm = cards;

namespace {

// The answer to a card request: the card (CARD), ok (STATUS OK) or the error the status names.
result<std::optional<bytes>> card_answer(result<bytes> answer) {
  if (!answer) return answer.err();
  auto msg = cm::decode(*answer);
  if (!msg) return error{errc::bad_frame, "card directory: bad answer: " + msg.err().message()};
  if (msg->type == cm::message::kind::card) return std::optional<bytes>(std::move(msg->card));
  if (msg->type != cm::message::kind::status || !msg->status)
    return error{errc::bad_frame, "card directory: the answer is " + std::string(cm::to_string(msg->type))};
  if (*msg->status == cm::status::ok) return std::optional<bytes>();
  return cm::to_error(*msg->status, msg->text);
}

} // namespace

void relay_client::publish_card(bytes card) {
  (void) host_->post([this, card = std::move(card)]() mutable {
    const bool renewed = !card_.empty();
    card_ = std::move(card);
    for (auto& r : relays_) {
      r.card_conn = 0;
      if (renewed && r.card_state == "published")
        r.card_state = r.reserved && r.conn != 0
                         ? "publishing the renewed card (the relay holds the one before)"
                         : "not published: no reservation now; the renewed card is published once reserved (the "
                           "relay holds the one before)";
    }
    for (std::size_t i = 0; i < relays_.size(); ++i) publish_card_on(i);
  });
}

void relay_client::publish_card_on(std::size_t i) {
  if (i >= relays_.size() || card_.empty()) return;
  const relay_state& r = relays_[i];
  if (!r.reserved || r.conn == 0 || r.card_conn == r.conn) return;
  auto framed = cm::frame(cm::publish(card_));
  if (!framed) {
    spdlog::warn("relay client: our card cannot be published: {}", framed.err().what());
    return;
  }
  request_op op;
  op.protocol = std::string(cm::protocol_id);
  op.service = "card directory";
  op.max_answer = cm::max_message_size;
  op.out = std::move(*framed);
  const conn_id conn = r.conn;
  const std::string relay = r.ep.text;
  op.done = [this, i, conn, relay, card = card_](result<bytes> answer) {
    auto a = card_answer(std::move(answer));
    if (a && *a) a = error{errc::bad_frame, "card directory: a CARD answered our PUBLISH"};
    if (card != card_) return;  // renewed meanwhile: the answer to the newer card's PUBLISH counts
    if (i < relays_.size() && relays_[i].conn == conn)
      relays_[i].card_state = a ? "published" : "not published: " + a.err().message();
    if (!a) {
      // A relay without a directory says so once per reservation connection; the next reservation tries again.
      if (a.err().code() == errc::not_supported) spdlog::info("relay client: {}: {}", relay, a.err().what());
      else spdlog::warn("relay client: publishing our card on {} failed: {}", relay, a.err().what());
      return;
    }
    if (i < relays_.size() && relays_[i].conn == conn) relays_[i].card_conn = conn;
    spdlog::info("relay client: our card is published on {}", relay);
  };
  request(r.ep, std::move(op), config_.lookup_timeout_ms);
}

void relay_client::lookup_card(const peer_id& peer, std::function<void(result<bytes>)> done) {
  struct lookup {
    std::function<void(result<bytes>)> done;
    std::size_t waiting = 0;
    std::vector<std::string> said;  // what each relay answered, for the error
    bool answered = false;          // some relay was reached and answered (no card, no directory, a bad card)
    errc last = errc::not_found;    // the last failure's code
    ~lookup() {  // dropped uncalled: the loop stopped
      if (done) done(error{errc::not_running, "relay client: stopped"});
    }
  };
  auto l = std::make_shared<lookup>();
  l->done = std::move(done);
  (void) host_->post([this, l, peer] {
    if (relays_.empty())
      return std::exchange(l->done, {})(error{errc::not_supported, "relay client: no relays to ask for a card"});
    auto framed = cm::frame(cm::lookup(peer.to_bytes()));
    if (!framed) return std::exchange(l->done, {})(framed.err());
    l->waiting = relays_.size();
    for (const auto& r : relays_) {
      request_op op;
      op.protocol = std::string(cm::protocol_id);
      op.service = "card directory";
      op.max_answer = cm::max_message_size;
      op.out = *framed;
      op.done = [this, l, peer, relay = r.ep.text](result<bytes> answer) {
        auto a = card_answer(std::move(answer));
        --l->waiting;
        if (!l->done) return;  // answered already
        std::optional<error> e;
        if (!a) {
          e = a.err();
        } else if (!*a) {
          e = error{errc::bad_frame, "card directory: OK without a card"};
        } else {
          // Only the peer's own valid card answers: one relay's bad card must not hide another relay's good one.
          auto c = e2ee::verify_card(**a, env_->now_unix_ms());
          if (c && c->id() == peer) return std::exchange(l->done, {})(std::move(**a));
          e = error{errc::bad_card, c ? "a card of " + c->id().str() : "a card that does not verify: " + c.err().message()};
        }
        l->said.push_back(relay + ": " + e->message());
        const errc c = e->code();
        l->last = c;
        l->answered = l->answered || !(c == errc::timeout || c == errc::connection_refused ||
                                       c == errc::connection_closed || c == errc::would_block || c == errc::not_running);
        if (l->waiting != 0) return;
        std::string all;
        for (const auto& s : l->said) all += (all.empty() ? "" : "; ") + s;
        // not_found once a relay answered (no card, no directory, a bad card); when none could be asked (down,
        // hung, unreachable) the last failure's code: worth trying again later, unlike not_found.
        if (l->answered) return std::exchange(l->done, {})(error{errc::not_found, "no relay has its card (" + all + ")"});
        std::exchange(l->done, {})(error{l->last, "no relay could be asked for its card (" + all + ")"});
      };
      request(r.ep, std::move(op), config_.lookup_timeout_ms);
    }
  });
}

} // namespace aqua::p2p
