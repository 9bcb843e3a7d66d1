// node::send's card discovery (docs/protocol/card-directory.md): the first
// message to a peer that is no contact and has no session looks its card up
// through the transports (relay_v2: on its relays), checks it (signature,
// validity, that it is that peer's: a relay cannot forge one) and adds it as
// an unverified contact, then sends.

#include <condition_variable>
#include <mutex>

#include <spdlog/spdlog.h>

#include "aqua/env.hpp"
#include "e2ee/card.hpp"
#include "node/node_impl.hpp"

namespace aqua {

result<contact> node::impl::discover_card(const peer_id& to, const std::string& alias,
                                          std::chrono::milliseconds timeout) {
  struct answers {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t waiting = 0;
    std::vector<bytes> cards;
    std::vector<std::string> said;  // the errors, "transport: why"
    std::optional<errc> code;       // not_found once any transport did not find it, else the first error's
  };
  auto a = std::make_shared<answers>();
  a->waiting = transports.size();
  for (auto& [name, t] : transports)
    t->lookup_card(to, [a, name = name](result<bytes> card) {
      std::lock_guard<std::mutex> lock(a->mu);
      --a->waiting;
      if (card) {
        a->cards.push_back(std::move(*card));
      } else if (card.err().code() != errc::not_supported) {
        a->said.push_back(name + ": " + card.err().message());
        if (!a->code || card.err().code() == errc::not_found) a->code = card.err().code();
      }
      a->cv.notify_all();
    });
  std::unique_lock<std::mutex> lock(a->mu);
  std::size_t checked = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (; checked < a->cards.size(); ++checked) {
      auto c = e2ee::verify_card(a->cards[checked], system_env()->now_unix_ms());
      if (c && c->id() == to) {
        lock.unlock();
        // A contact whose stored card is as new (e.g. one added by hand, signed later) and still valid keeps it:
        // nothing to refresh.
        if (auto known = contacts->find(to); known && alias.empty()) {
          auto held = e2ee::decode_card(known->card);
          if (held && held->created_ms >= c->created_ms && system_env()->now_unix_ms() < held->expires_ms) return *known;
        }
        auto added = contacts->add(e2ee::card_to_text(*c), alias, system_env()->now_unix_ms(), trust_state::unverified);
        if (added) spdlog::info("node {}: found {}'s card through its relays", cfg.name, to.str());
        return added;
      }
      a->said.push_back(c ? "a card of " + c->id().str() + ", not of " + to.str() : "a card that does not verify: " +
                                                                                          c.err().message());
      a->code = errc::not_found;
    }
    if (a->waiting == 0) break;
    if (a->cv.wait_until(lock, deadline) == std::cv_status::timeout && a->cards.size() == checked) {
      a->said.push_back("no answer within " + std::to_string(timeout.count()) + " ms");
      if (!a->code) a->code = errc::timeout;
      break;
    }
  }
  if (a->said.empty()) return error{errc::not_supported, "no transport looks up cards (no relays configured)"};
  std::string all;
  for (const auto& s : a->said) all += (all.empty() ? "" : "; ") + s;
  return error{a->code.value_or(errc::not_found), "looking its card up failed: " + all};
}

result<contact_info> node::lookup_contact(const peer_id& peer, const std::string& alias,
                                          std::chrono::milliseconds timeout) {
  if (impl_->stopped) return error{errc::not_running, "node is stopped"};
  if (peer == impl_->self) return error{errc::invalid_argument, "this is the node's own peer ID (" + peer.str() + ")"};
  auto c = impl_->discover_card(peer, alias, timeout);
  if (!c) return c.err();
  return describe(*c);
}

} // namespace aqua
