#pragma once
// Private: how threads outside the actor system (the node API's callers)
// ask component actors for an answer without a caf::scoped_actor per call.
// A scoped_actor is a whole blocking actor: spawned, registered, given a
// request timeout on CAF's clock thread and cleaned up again — tens of
// microseconds and two clock-thread wake-ups for every node::send or
// node::receive (bench/transport measured it as the biggest cost of a round
// trip). Instead the caller hands a reply slot to one long-lived bridge actor,
// which makes the request and fills the slot; the caller waits on the slot's
// condition variable with its own deadline.

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "actors/protocol.hpp"

namespace aqua::node_detail {

template <class T>
class reply_slot {
 public:
  void set(result<T> r) {
    {
      std::lock_guard<std::mutex> g(m_);
      if (value_) return;  // first answer wins
      value_.emplace(std::move(r));
    }
    cv_.notify_one();
  }
  // The answer, or nullopt if none came within `timeout`.
  std::optional<result<T>> wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> g(m_);
    if (!wait_locked(g, timeout)) return std::nullopt;
    return std::move(value_);
  }
  // Like wait_for, but the answer stays for the next call (send_ticket).
  std::optional<result<T>> peek_for(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> g(m_);
    if (!wait_locked(g, timeout)) return std::nullopt;
    return value_;
  }

 private:
  bool wait_locked(std::unique_lock<std::mutex>& g, std::chrono::milliseconds timeout) {
    // Bounded so that now + timeout cannot overflow the clock (a caller's "forever").
    timeout = std::clamp(timeout, std::chrono::milliseconds(0), std::chrono::milliseconds(std::chrono::hours(24 * 365)));
    return cv_.wait_for(g, timeout, [&] { return value_.has_value(); });
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::optional<result<T>> value_;
};

// What travels to the bridge: fills the slot exactly once, with not_running
// if the bridge drops it unanswered (the node stopping with the ask queued).
template <class T>
class reply_to : public actors::once_callback<T> {
 public:
  reply_to() = default;
  explicit reply_to(std::shared_ptr<reply_slot<T>> s)
      : actors::once_callback<T>([s](result<T> r) { s->set(std::move(r)); }, "the node stopped before it answered") {}
};

using ask_atom = caf::atom_constant<caf::atom("ask")>;

// The answer types the node API asks for (one bridge handler each; the
// mailbox's hot calls skip the bridge: node::impl::call).
caf::actor spawn_ask_bridge(caf::actor_system& sys);

} // namespace aqua::node_detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::node_detail::reply_to<bool>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::node_detail::reply_to<std::uint64_t>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::node_detail::reply_to<std::string>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::node_detail::reply_to<std::vector<std::string>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::node_detail::reply_to<aqua::inbound_message>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::node_detail::reply_to<aqua::actors::message_list>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::node_detail::reply_to<aqua::actors::outbox_list>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::node_detail::reply_to<aqua::path_diagnosis>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::node_detail::reply_to<aqua::relay_server_status>)
