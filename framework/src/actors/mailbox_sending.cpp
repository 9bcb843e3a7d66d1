// The mailbox's sending side: new messages sealed and queued (flush_sends),
// and messages that waited behind a full send window sealed when they enter
// it (seal_deferred). docs/protocol/delivery.md, "Sending".
#include <spdlog/spdlog.h>

#include "actors/mailbox_parts.hpp"
#include "e2ee/envelope.hpp"

namespace aqua::actors {

namespace {

// A send taken by flush_sends is in `out` now, or never will be.
void settled(mailbox_state& st, const seal_request& req) {
  if (auto it = st.sends_unsettled.find(req.recipient); it != st.sends_unsettled.end() && --it->second == 0)
    st.sends_unsettled.erase(it);
  if (!req.id_hex.empty()) st.named_unsettled.erase(req.id_hex);
}

struct written_send {
  delivery::out_record rec;
  seal_request req;  // as asked (settled)
  answer<std::string> reply;
};
using written_sends = std::vector<written_send>;

// Once the batch holding `sends`' records is durable: the callers get their
// ids, and those within their window go out.
void after_sends_written(mailbox_actor_t* self, leveldb::WriteBatch&& b, std::shared_ptr<written_sends> sends) {
  persist(self, std::move(b), [self, sends](const result<void>& r) {
    auto& st = self->state;
    for (auto& [rec, req, reply] : *sends) {
      settled(st, req);
      if (!r) {
        reply(r.err());  // nothing acknowledged, nothing sent
        continue;
      }
      auto id = rec.message_id;
      st.out.add(std::move(rec));
      reply(id);
      // Only these messages are new; anything else due is the timer's.
      if (st.out.within_window(id, st.setup.cfg.send_window)) transmit(self, id);
    }
    arm_timer(self);
  });
}

} // namespace

void flush_sends(mailbox_actor_t* self) {
  auto& st = self->state;
  if (!st.seal_later.empty()) seal_deferred(self);
  if (st.seal_queue.empty()) return;
  // Up to a batch now; the rest on the next turn.
  auto sends = take_batch(st.seal_queue, max_seal_batch, [self] { self->send(self, seal_flush_atom::value); });
  // Each send's place in the send order is taken now, in call order. Those
  // that find their recipient's window full (its pending messages and the
  // sends of earlier batches not written yet) are written unsealed (deferred).
  const auto window = st.setup.cfg.send_window;
  const auto now = now_ms();
  seal_requests reqs;
  auto plan = std::make_shared<std::vector<delivery::out_record>>();  // per send: its record (sealed ones to fill in)
  auto sealed_at = std::make_shared<std::vector<std::size_t>>();      // per seal request: its send's index
  for (std::size_t i = 0; i < sends->size(); ++i) {
    auto& s = (*sends)[i];
    auto& unsettled = st.sends_unsettled[s.req.recipient];
    const bool in_window = window == 0 || st.out.pending_for(s.req.recipient) + unsettled < window;
    ++unsettled;
    if (!s.req.id_hex.empty())
      st.named_unsettled[s.req.id_hex] = {s.req.recipient, delivery::content_digest(s.req.id_hex, s.req.inner)};
    delivery::out_record rec;
    rec.recipient = s.req.recipient;
    rec.created_ms = now;
    rec.next_attempt_ms = now;
    rec.seq = st.out.reserve_seq();
    if (in_window) {
      sealed_at->push_back(i);
      reqs.push_back(s.req);
    } else {
      rec.message_id = to_hex(e2ee::message_id_or_random(s.req.id_hex));  // as a seal would choose it
      rec.content = delivery::content_digest(rec.message_id, s.req.inner);
      rec.inner = s.req.inner;
      rec.expires_ms = now + static_cast<std::int64_t>(s.req.ttl_ms ? s.req.ttl_ms : st.setup.default_ttl_ms);
    }
    plan->push_back(std::move(rec));
  }
  // Always through the crypto actor, even with nothing to seal: its answers come back in request order, so
  // every batch's records are written, and enter the outbox, in send order.
  auto settle = [self, sends](const error& e) {
    auto& st = self->state;
    for (auto& s : *sends) {
      settled(st, s.req);
      s.reply(e);
    }
  };
  self->request(st.setup.crypto, caf::infinite, seal_many_atom::value, std::move(reqs))
    .then(
      [self, sends, plan, sealed_at, settle](sealed_messages& sealed, const store::ops& changes) {
        leveldb::WriteBatch b;
        changes.append_to(b);  // written whatever happens: the engine has taken them
        if (sealed.size() != sealed_at->size()) {
          if (has_ops(b)) persist(self, std::move(b));
          return settle(error{errc::io_error, "crypto answered " + std::to_string(sealed.size()) + " of " +
                                                std::to_string(sealed_at->size()) + " seals"});
        }
        std::vector<std::optional<error>> failed(sends->size());
        for (std::size_t k = 0; k < sealed.size(); ++k) {
          auto& rec = (*plan)[(*sealed_at)[k]];
          if (sealed[k].failure) {
            failed[(*sealed_at)[k]] = std::move(sealed[k].failure);
            continue;
          }
          rec.message_id = sealed[k].message_id;
          rec.content = delivery::content_digest(rec.message_id, (*sends)[(*sealed_at)[k]].req.inner);
          rec.envelope = std::move(sealed[k].envelope);
          rec.expires_ms = sealed[k].expires_ms;
        }
        auto written = std::make_shared<written_sends>();
        auto& st = self->state;
        for (std::size_t i = 0; i < sends->size(); ++i) {
          auto& s = (*sends)[i];
          if (failed[i]) {
            settled(st, s.req);
            s.reply(*failed[i]);  // nothing sealed, nothing to write
            continue;
          }
          b.Put("o/" + (*plan)[i].message_id, as_slice((*plan)[i].encode()));
          written->push_back({std::move((*plan)[i]), std::move(s.req), s.reply});
        }
        if (written->empty() && !has_ops(b)) return;
        after_sends_written(self, std::move(b), written);
      },
      [settle](const caf::error& e) { settle(from_caf(e)); });
}

void seal_deferred(mailbox_actor_t* self) {
  auto& st = self->state;
  auto ids = take_batch(st.seal_later, max_seal_batch, [self] { self->send(self, seal_flush_atom::value); });
  const auto now = now_ms();
  seal_requests reqs;
  auto asked = std::make_shared<std::vector<std::string>>();
  for (auto& id : *ids) {
    auto* rec = st.out.find(id);
    if (!rec || rec->sealed() || rec->expires_ms <= now ||
        (rec->state != delivery::out_state::queued && rec->state != delivery::out_state::sent)) {
      st.sealing.erase(id);
      continue;
    }
    reqs.push_back(seal_request{rec->recipient, rec->inner, static_cast<std::uint64_t>(rec->expires_ms - now), id});
    asked->push_back(id);
  }
  if (reqs.empty()) return;
  self->request(st.setup.crypto, caf::infinite, seal_many_atom::value, std::move(reqs))
    .then(
      [self, asked](sealed_messages& sealed, const store::ops& changes) {
        auto& st = self->state;
        leveldb::WriteBatch b;
        changes.append_to(b);
        auto done = std::make_shared<std::vector<std::string>>();
        auto given_up = std::make_shared<std::vector<std::string>>();
        for (std::size_t k = 0; k < asked->size(); ++k) {
          auto& id = (*asked)[k];
          auto* rec = st.out.find(id);
          if (k >= sealed.size() || sealed[k].failure || !rec) {
            // Not sealed, e.g. the contact was blocked meanwhile: it never can be, so it ends now, as
            // expired (a waiting `send --wait` hears message_expired), and its window place frees up.
            st.sealing.erase(id);
            if (rec && k < sealed.size() && sealed[k].failure &&
                st.out.give_up(id, "given up: it could not be sealed: " + sealed[k].failure->what())) {
              spdlog::warn("mailbox: message {} to {} given up: it could not be sealed: {}", id, rec->recipient,
                           sealed[k].failure->what());
              b.Put("o/" + id, as_slice(rec->encode(false)));
              given_up->push_back(id);
            }
            continue;
          }
          st.out.set_sealed(id, std::move(sealed[k].envelope));
          b.Put("o/" + id, as_slice(rec->encode()));
          done->push_back(id);
        }
        if (!has_ops(b)) return arm_timer(self);
        // The envelopes leave only once their seal's ratchet step is durable.
        persist(self, std::move(b), [self, done, given_up](const result<void>& r) {
          auto& st = self->state;
          for (auto& id : *done) {
            st.sealing.erase(id);
            if (r) transmit(self, id);
          }
          for (auto& id : *given_up) notify_outcome(self, id);
          arm_timer(self);
        });
      },
      [self, asked](const caf::error& e) {
        spdlog::warn("mailbox: sealing deferred messages failed: {}", from_caf(e).what());
        for (auto& id : *asked) self->state.sealing.erase(id);
        arm_timer(self);
      });
}

} // namespace aqua::actors
