// The mailbox actor: the node's durable inbox and outbox over the store.
// It is the only writer of message records and the only requester of the
// crypto actor, so state changes reach the store in the order they happened.
//   send:    seal -> [ratchet state + o/<id>] durable -> "queued" -> transmit,
//            retried with backoff + jitter until acked or expired
//   receive: open -> [ratchet state + i/<seq> + d/<id>] durable -> ack
// The dedup index gives the application each message id exactly once.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <random>

#include "actors/mailbox_parts.hpp"

namespace aqua::actors {
namespace {

using expire_atom = caf::atom_constant<caf::atom("expire")>;

// Outbox records with an ID above `after`, at most `max` (0: all), in ID order.
caf::result<outbox_list> outbox_page(mailbox_actor_t* self, const std::string& after, std::uint64_t max) {
  outbox_list out;
  auto r = self->state.setup.db->scan(
    "o/",
    [&](std::string_view, std::string_view v) {
      auto rec = delivery::out_record::decode(as_bytes(v));
      if (!rec) return true;
      // A pending message's attempt state may not be written yet (flush_sent): memory has it.
      auto* live = self->state.out.find(rec->message_id);
      out.push_back(to_outbound(live ? *live : *rec));
      return max == 0 || out.size() < max;
    },
    after.empty() ? std::string() : "o/" + after);
  if (!r) return to_caf(r.err());
  return out;
}

// Writes the crypto actor's `changes` in order with every other batch, then answers `values` through `rp` (or the
// store's error): a card is used only once the state it names is durable.
template <class Promise, class... Ts>
void deliver_when_durable(mailbox_actor_t* self, Promise rp, const store::ops& changes, Ts... values) {
  persist_then(self, changes, [=](const result<void>& r) mutable {
    if (r) rp.deliver(values...);
    else rp.deliver(to_caf(r.err()));
  });
}

caf::behavior mailbox_actor(mailbox_actor_t* self, mailbox_setup setup) {
  self->state.setup = std::move(setup);
  self->state.rng.seed(std::random_device{}());
  self->state.jitter_salt = self->state.rng();
  self->state.dedup = delivery::dedup_window(
    {self->state.setup.cfg.dedup_max_ids, std::int64_t{self->state.setup.cfg.dedup_max_age_s} * 1000});
  // An envelope is its payload plus at most ~17 KiB (header, tag, the prekey block with a sender card).
  self->state.intake = delivery::intake<queued_frame>(
    std::max(intake_bytes, 4 * (self->state.setup.max_inner + (32u << 10))), max_open_batch, max_opens_in_flight);
  return {
    [=](init_atom, const caf::actor& routing) -> caf::result<bool> {
      self->state.routing = routing;
      if (auto r = load_from_store(self); !r) return to_caf(r.err());
      arm_timer(self);
      return true;
    },
    // The node API's calls on the path of every message answer through an
    // `answer` the caller sent along (protocol.hpp), not a response.
    // `wanted_id` (32 hex digits, or empty for a random one) makes sends
    // idempotent: a message id already in the outbox is not sent again.
    [=](send_atom, const std::string& peer, const bytes& payload, std::uint64_t ttl_ms, const std::string& wanted_id,
        const std::string& topic, const answer<std::string>& reply) {
      if (topic.size() > delivery::max_topic)
        return reply(error{errc::invalid_argument, "topic is " + std::to_string(topic.size()) + " bytes; at most " +
                                                     std::to_string(delivery::max_topic) + " allowed"});
      // Too large to seal: said now, not when a deferred message's turn comes (flush_sends).
      auto inner = delivery::frame_message(payload, topic);
      if (inner.size() > self->state.setup.max_inner)
        return reply(error{errc::frame_too_large,
                           "message of " + std::to_string(payload.size()) + " bytes" +
                             (topic.empty() ? "" : " with a topic of " + std::to_string(topic.size()) + " bytes") +
                             " is " + std::to_string(inner.size() - self->state.setup.max_inner) +
                             (inner.size() - self->state.setup.max_inner == 1 ? " byte" : " bytes") +
                             " too large: payload and topic together may take " +
                             std::to_string(self->state.setup.max_inner - (inner.size() - payload.size() - topic.size())) +
                             " bytes (crypto.max_frame_bytes " + std::to_string(self->state.setup.max_inner - 1) +
                             (topic.empty() ? ")" : ", less 1 byte for the topic's length)")});
      std::string id;  // canonical: lower-case hex, as records are keyed ("ABC..." named another record)
      if (!wanted_id.empty()) {
        auto raw = from_hex(wanted_id);
        if (!raw || raw->size() != e2ee::message_id_size)
          return reply(error{errc::invalid_argument, "message id must be 32 hex digits, got '" + wanted_id + "'"});
        id = to_hex(*raw);
        // A repeat of a send (a retry after a timeout or a crash): the message is not sent again. It must name
        // the same recipient, payload and topic; anything else would be a new message silently dropped.
        auto repeat_of = [&](const std::string& recipient, std::optional<bool> same_content) {
          if (recipient != peer)
            return reply(error{errc::invalid_argument, "message id " + id + " was already used for a message to " +
                                                           recipient + "; a retry must name the same recipient"});
          if (same_content == false)
            return reply(error{errc::conflict, "message id " + id +
                                                 " was already used for a message with another payload or topic; a "
                                                 "retry must repeat the message exactly (a new message needs a new id)"});
          return reply(id);
        };
        for (auto& queued : self->state.seal_queue)  // sent in this turn, not sealed yet
          if (queued.req.id_hex == id) return repeat_of(queued.req.recipient, queued.req.inner == inner);
        if (auto it = self->state.named_unsettled.find(id); it != self->state.named_unsettled.end())  // being written
          return repeat_of(it->second.first, it->second.second == delivery::content_digest(id, inner));
        auto have = self->state.setup.db->get("o/" + id);
        if (!have) return reply(have.err());
        if (have->has_value()) {  // queued before (e.g. ahead of a crash): not again
          auto rec = delivery::out_record::decode(as_bytes(**have));
          if (!rec) return reply(rec.err());
          std::optional<bool> same;  // unknown for records written before content digests were kept
          if (rec->content) same = *rec->content == delivery::content_digest(id, inner);
          return repeat_of(rec->recipient, same);
        }
      }
      // Queued: the sends of one turn are sealed and written together (flush_sends).
      auto& q = self->state.seal_queue;
      q.push_back({seal_request{peer, std::move(inner), ttl_ms, id}, reply});
      if (q.size() == 1) self->send(self, seal_flush_atom::value);
    },
    [=](seal_flush_atom) { flush_sends(self); },
    [=](frame_atom, std::uint64_t conn, const std::string& transport, const std::string& bound_peer, const bytes& frame) {
      incoming(self, conn, transport, bound_peer, frame);
    },
    // A frame a relay's mailbox held for us (transport_host::deliver_held).
    // `depositor` (the mailbox's word, peer ID text or empty) is only the
    // likely sender: a frame beyond its session's tag window is searched for
    // in that peer's sessions, as for a frame from a connection bound to it.
    [=](held_atom, const bytes& frame, const std::string& depositor, const completion& done) {
      incoming(self, 0, "mailbox", depositor, frame, done);
    },
    // code 0: durable; else the store's error (code and message, as it reported them).
    [=](durable_atom, std::uint64_t token, std::uint16_t code, const std::string& why) {
      auto it = self->state.on_durable.find(token);
      if (it == self->state.on_durable.end()) return;
      auto cont = std::move(it->second);
      self->state.on_durable.erase(it);
      cont(code == 0 ? result<void>() : result<void>(error{static_cast<errc>(code), why}));
    },
    [=](ack_flush_atom, const std::string& peer) { flush_acks(self, peer); },
    [=](sent_flush_atom) { flush_sent(self, [](const result<void>&) {}); },  // the timer
    [=](open_flush_atom) { flush_incoming(self); },
    [=](watch_flush_atom) {
      self->state.watch_flush_armed = false;
      serve_watchers(self);
    },
    // node::stop: answered once the batch is durable.
    [=](sent_flush_atom, bool) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      flush_sent(self, [rp](const result<void>& r) mutable { rp.deliver(r.has_value()); });
      return rp;
    },
    // `peer` connected to us (routing, an authenticated incoming connection): what failed to reach it goes now,
    // not at its backoff (up to a minute away) — a peer without an address of its own is reachable only so.
    [=](reachable_atom, const std::string& peer) {
      auto& st = self->state;
      const auto now = now_ms();
      if (st.out.hasten(peer, now) == 0) return;
      for (auto& id : st.out.due(now, st.setup.cfg.send_window)) transmit(self, id);
    },
    [=](tick_atom) {
      self->state.timer_armed = false;
      on_tick(self);
      arm_timer(self);
    },
    // Next unread message, waiting up to timeout_ms; errc::timeout after.
    [=](next_atom, std::uint64_t timeout_ms, const answer<inbound_message>& reply) {
      auto& st = self->state;
      if (!st.unread.empty()) return reply(take_unread(self));
      auto token = st.next_token++;
      st.waiting.push_back({token, reply});
      self->delayed_send(self, std::chrono::milliseconds(timeout_ms), expire_atom::value, token);
    },
    // Messages with sequence > after (at most max, 0 = all; ending once
    // their payloads hold max_bytes, 0 = no bound), waiting up to timeout_ms
    // for the first; not marked read. For watchers (NDJSON streams).
    [=](watch_atom, std::uint64_t after, std::uint64_t max, std::uint64_t max_bytes, std::uint64_t timeout_ms,
        const answer<message_list>& reply) {
      auto list = inbox_after(self, after, max, max_bytes);
      if (!list || !list->empty() || timeout_ms == 0) return reply(std::move(list));
      auto token = self->state.next_token++;
      self->state.watchers.push_back({token, after, max, max_bytes, reply});
      self->delayed_send(self, std::chrono::milliseconds(timeout_ms), expire_atom::value, token);
    },
    // The outcome of message `id` (delivered or expired), waiting up to timeout_ms.
    [=](await_atom, const std::string& id, std::uint64_t timeout_ms, const answer<outbound_message>& reply) {
      auto& st = self->state;
      auto raw = st.setup.db->get("o/" + id);
      if (!raw) return reply(raw.err());
      if (!raw->has_value()) {
        // A send of this id still being sealed or written (a repeat answered while the first copy was on its way
        // there: several `send --message-id X --wait` at once): its outcome comes like any other's.
        const bool coming = st.named_unsettled.count(id) > 0 ||
                            std::any_of(st.seal_queue.begin(), st.seal_queue.end(),
                                        [&](const auto& q) { return q.req.id_hex == id; });
        if (!coming) return reply(error{errc::not_found, "no sent message with id " + id});
      } else {
        auto rec = delivery::out_record::decode(as_bytes(**raw));
        if (!rec) return reply(rec.err());
        if (rec->state == delivery::out_state::delivered || rec->state == delivery::out_state::expired)
          return reply(to_outbound(*rec));
      }
      auto token = self->state.next_token++;
      self->state.awaiting.emplace(id, std::make_pair(token, reply));
      self->delayed_send(self, std::chrono::milliseconds(timeout_ms), expire_atom::value, token);
    },
    [=](expire_atom, std::uint64_t token) {
      auto& st = self->state;
      for (auto it = st.waiting.begin(); it != st.waiting.end(); ++it)
        if (it->token == token) {
          it->reply(error{errc::timeout, "no message arrived in time"});
          st.waiting.erase(it);
          return;
        }
      for (auto it = st.watchers.begin(); it != st.watchers.end(); ++it)
        if (it->token == token) {
          it->reply(message_list{});  // a watcher's timeout is an empty batch, not an error
          st.watchers.erase(it);
          return;
        }
      for (auto it = st.awaiting.begin(); it != st.awaiting.end(); ++it)
        if (it->second.first == token) {
          it->second.second(error{errc::timeout, "message " + it->first + " not acknowledged by its recipient yet"});
          st.awaiting.erase(it);
          return;
        }
    },
    [=](list_atom) -> caf::result<message_list> {
      message_list out;
      auto r = self->state.setup.db->scan("i/", [&](std::string_view, std::string_view v) {
        if (auto rec = delivery::in_record::decode(as_bytes(v))) out.push_back(to_inbound(*rec));
        return true;
      });
      if (!r) return to_caf(r.err());
      return out;
    },
    // Mark message `seq` read (ack) and return it; errc::not_found if absent.
    [=](read_atom, std::uint64_t seq) -> caf::result<inbound_message> {
      auto rec = inbox_record(self, seq);
      if (!rec) return to_caf(rec.err());
      rec->state = delivery::in_state::read;
      std::erase(self->state.unread, seq);
      leveldb::WriteBatch b;
      b.Put(store::hex_key("i/", seq), as_slice(rec->encode()));
      auto rp = self->make_response_promise<inbound_message>();
      persist(self, std::move(b), [=](const result<void>& r) mutable {
        if (r) rp.deliver(to_inbound(*rec));
        else rp.deliver(to_caf(r.err()));
      });
      return rp;
    },
    // Message `seq` is unread again and goes to the next receive (node::give_back).
    [=](unread_atom, std::uint64_t seq) -> caf::result<bool> {
      auto rec = inbox_record(self, seq);
      if (!rec) return to_caf(rec.err());
      // Whether it is handed out is the in-memory list's to say: the stored record may not show the read mark of
      // a receive yet (that write is not waited for), and must end unread after it.
      auto& waiting_unread = self->state.unread;
      if (std::find(waiting_unread.begin(), waiting_unread.end(), seq) != waiting_unread.end()) return true;
      rec->state = delivery::in_state::unread;
      leveldb::WriteBatch b;
      b.Put(store::hex_key("i/", seq), as_slice(rec->encode()));
      auto rp = self->make_response_promise<bool>();
      persist(self, std::move(b), [=](const result<void>& r) mutable {
        if (!r) {
          rp.deliver(to_caf(r.err()));
          return;
        }
        auto& unread = self->state.unread;
        if (std::find(unread.begin(), unread.end(), seq) == unread.end())
          unread.insert(std::lower_bound(unread.begin(), unread.end(), seq), seq);
        serve_waiters(self);
        rp.deliver(true);
      });
      return rp;
    },
    [=](delete_atom, std::uint64_t seq) -> caf::result<bool> {
      auto& st = self->state;
      if (auto rec = inbox_record(self, seq); !rec) return to_caf(rec.err());
      std::erase(st.unread, seq);
      leveldb::WriteBatch b;
      b.Delete(store::hex_key("i/", seq));  // the d/ record stays: a late copy is still recognised as a duplicate
      b.Put(delivery::inbox_seq_key, as_slice(delivery::encode_inbox_seq(st.next_seq - 1)));
      auto rp = self->make_response_promise<bool>();
      persist(self, std::move(b), [=](const result<void>& r) mutable {
        if (r) rp.deliver(true);
        else rp.deliver(to_caf(r.err()));
      });
      return rp;
    },
    // Every message up to the answer is read (node::read_through): the number before the oldest unread message
    // or the oldest one still being stored (both in sequence order), else the newest number given out.
    [=](read_through_atom) -> std::uint64_t {
      auto& st = self->state;
      auto first = st.next_seq;
      if (!st.unread.empty()) first = std::min(first, st.unread.front());
      if (!st.arriving.empty()) first = std::min(first, *st.arriving.begin());
      return first - 1;
    },
    [=](outbox_atom) -> caf::result<outbox_list> { return outbox_page(self, {}, 0); },
    [=](outbox_atom, const std::string& after, std::uint64_t max) -> caf::result<outbox_list> {
      return outbox_page(self, after, max);
    },
    // Our card renewed (node/card_keeper.cpp) or signed on request (node::sign_card): the crypto actor's state
    // changes pass here, like those of every seal and open, so they are written in the order it made them; the
    // card is answered once they are durable (a card naming a signed prekey the store lost would be useless).
    // -> (card text, or "" when not due; whether the signed prekey was rotated)
    [=](renew_atom, const std::vector<std::string>& addresses, std::int32_t mode) -> caf::result<std::string, bool> {
      auto rp = self->make_response_promise<std::string, bool>();
      self->request(self->state.setup.crypto, caf::infinite, renew_atom::value, addresses, mode)
        .then([=](const std::string& card, bool rotated,
                  const store::ops& changes) mutable { deliver_when_durable(self, rp, changes, card, rotated); },
              [=](const caf::error& e) mutable { rp.deliver(e); });
      return rp;
    },
    [=](card_atom, const std::vector<std::string>& addresses, const std::vector<std::string>& capabilities,
        std::int64_t validity_ms) -> caf::result<std::string> {
      auto rp = self->make_response_promise<std::string>();
      self->request(self->state.setup.crypto, caf::infinite, card_atom::value, addresses, capabilities, validity_ms)
        .then([=](const std::string& card,
                  const store::ops& changes) mutable { deliver_when_durable(self, rp, changes, card); },
              [=](const caf::error& e) mutable { rp.deliver(e); });
      return rp;
    },
    [=](status_atom) {
      auto& st = self->state;
      return caf::make_message(st.received, st.rejected, std::uint64_t{st.out.pending()}, std::uint64_t{st.unread.size()});
    },
  };
}

} // namespace

caf::actor spawn_mailbox(caf::actor_system& sys, mailbox_setup setup) { return sys.spawn(mailbox_actor, std::move(setup)); }

} // namespace aqua::actors
