// The mailbox actor: holds verified inbound messages for the application.
// In-memory and bounded by mailbox.max_messages (oldest dropped first, with
// a warning) until the Durable outbox/inbox issue puts it on LevelDB.
// `next` requests are parked as response promises and answered in order.

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>

#include "actors/protocol.hpp"

namespace aqua::actors {
namespace {

using expire_atom = caf::atom_constant<caf::atom("expire")>;

struct mailbox_state {
  mailbox_config cfg;
  std::deque<inbound_message> messages;
  std::uint64_t next_sequence = 1;
  std::uint64_t cursor = 0;  // highest sequence handed out by `next`
  struct waiter {
    std::uint64_t token;
    caf::response_promise rp;
  };
  std::deque<waiter> waiting;
  std::uint64_t next_token = 1;
  static inline const char* name = "aqua.mailbox";
};

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

caf::behavior mailbox_actor(caf::stateful_actor<mailbox_state>* self, mailbox_config cfg) {
  self->state.cfg = cfg;
  auto first_unread = [self]() -> const inbound_message* {
    for (auto& m : self->state.messages)
      if (m.sequence > self->state.cursor) return &m;
    return nullptr;
  };
  return {
    [=](deliver_atom, const std::string& sender, const std::string& message_id, const bytes& payload,
        const std::string& transport, const std::string& trust, bool quarantined) {
      auto& st = self->state;
      auto from = peer_id::parse(sender);
      if (!from) return;  // crypto produced it from a verified session; cannot fail
      inbound_message m;
      m.sequence = st.next_sequence++;
      m.sender = *from;
      m.message_id = message_id;
      m.payload = payload;
      m.transport = transport;
      m.trust = trust;
      m.quarantined = quarantined;
      m.received_unix_ms = now_ms();
      if (st.messages.size() >= st.cfg.max_messages) {
        spdlog::warn("mailbox full ({} messages): dropping oldest message {}", st.messages.size(),
                     st.messages.front().message_id);
        st.messages.pop_front();
      }
      st.messages.push_back(std::move(m));
      while (!st.waiting.empty()) {
        auto* next = first_unread();
        if (next == nullptr) break;
        st.cursor = next->sequence;
        st.waiting.front().rp.deliver(*next);
        st.waiting.pop_front();
      }
    },
    // Next unread message, waiting up to timeout_ms; errc::timeout after.
    [=](next_atom, std::uint64_t timeout_ms) -> caf::result<inbound_message> {
      if (auto* m = first_unread()) {
        self->state.cursor = m->sequence;
        return *m;
      }
      auto token = self->state.next_token++;
      self->state.waiting.push_back({token, self->make_response_promise()});
      self->delayed_send(self, std::chrono::milliseconds(timeout_ms), expire_atom::value, token);
      return caf::delegated<inbound_message>();
    },
    [=](expire_atom, std::uint64_t token) {
      auto& w = self->state.waiting;
      for (auto it = w.begin(); it != w.end(); ++it)
        if (it->token == token) {
          it->rp.deliver(to_caf(error{errc::timeout, "no message arrived in time"}));
          w.erase(it);
          return;
        }
    },
    [=](list_atom) -> message_list {
      return message_list(self->state.messages.begin(), self->state.messages.end());
    },
  };
}

} // namespace

caf::actor spawn_mailbox(caf::actor_system& sys, mailbox_config cfg) { return sys.spawn(mailbox_actor, cfg); }

} // namespace aqua::actors
