// The crypto actor: a thin shell around the sans-I/O E2EE engine. It seals
// payloads into envelopes for contacts and opens envelopes, applying the
// trust policy (blocked / unknown senders) before anything is decrypted.
// It never writes the store itself: every reply carries the engine state
// changes, which the mailbox writes in the same batch as the records that
// depend on them. Its own card is signed by the identity actor at start and
// renewed on request (renew_atom).

#include <sodium.h>

#include "actors/protocol.hpp"
#include "e2ee/own_card.hpp"
#include "store/engine_store.hpp"

namespace aqua::actors {
namespace {

struct crypto_state {
  crypto_setup setup;
  static inline const char* name = "aqua.crypto";

  store::ops changes() { return store::engine_ops(setup.engine->take_changes()); }
  sealed_message seal_one(const std::string& recipient, const bytes& payload, std::uint64_t ttl_ms,
                          const std::string& id_hex) {
    sealed_message out;
    auto fail = [&](error e) {
      out.failure = std::move(e);
      return out;
    };
    auto to = peer_id::parse(recipient);
    if (!to) return fail(to.err());
    auto c = setup.contacts->find(*to);
    if (c && c->trust == trust_state::blocked)
      return fail(error{errc::sender_blocked, recipient + " is blocked in the contact book (unblock it with 'aqua contacts unblock " + recipient + "' to send to it)"});
    std::optional<e2ee::contact_card> card;
    auto now = setup.engine->environment().now_unix_ms();
    if (c && !setup.engine->has_session(*to)) {
      auto v = e2ee::verify_card(c->card, now);
      if (!v) return fail(error{v.err().code(), "contact card of " + recipient + ": " + v.err().message()});
      card = std::move(*v);
    }
    const auto id = e2ee::message_id_or_random(id_hex);
    auto ttl = ttl_ms ? static_cast<std::int64_t>(ttl_ms) : std::int64_t{setup.cfg.default_ttl_s} * 1000;
    auto env = setup.engine->seal(*to, card ? &*card : nullptr, payload, id, now + ttl);
    if (!env) return fail(env.err());
    out.envelope = std::move(*env);
    out.message_id = to_hex(id);
    out.expires_ms = now + ttl;
    return out;
  }
  opened_message open_one(const bytes& data, const std::string& likely_sender, bool live) {
    opened_message out;
    auto hint = likely_sender.empty() ? result<peer_id>(error{errc::not_found, ""}) : peer_id::parse(likely_sender);
    auto m = setup.engine->open(data, [&](const peer_id& p) { return admit(p); }, hint ? &*hint : nullptr, live);
    if (!m) {
      out.failure = m.err();
      return out;
    }
    auto c = setup.contacts->find(m->sender);
    out.trust = c ? std::string(to_string(c->trust)) : "unknown";
    out.quarantined = !c.has_value();
    if (!c && m->sender_card) out.card_addresses = m->sender_card->addresses;
    out.sender = m->sender.str();
    out.message_id = std::move(m->message_id);
    out.inner = std::move(m->payload);
    return out;
  }
  std::optional<error> admit(const peer_id& sender) {
    auto c = setup.contacts->find(sender);
    if (c && c->trust == trust_state::blocked)
      return error{errc::sender_blocked, "message from blocked contact " + sender.str() + " rejected"};
    if (!c && setup.cfg.unknown_senders == "reject")
      return error{errc::unknown_sender, "message from unknown sender " + sender.str() +
                                             " rejected (crypto.unknown_senders: reject)"};
    return std::nullopt;
  }
};

using crypto_actor_t = caf::stateful_actor<crypto_state>;

// Has the identity actor sign the card template `tmpl`, then calls `signed_card` with the signed card; a failure
// to sign goes to `rp`. For our own card at start and for cards signed on request.
template <class Promise, class Then>
void sign_template(crypto_actor_t* self, e2ee::contact_card tmpl, Promise rp, Then signed_card) {
  auto input = e2ee::card_signing_input(tmpl);
  self->request(self->state.setup.identity, caf::infinite, sign_atom::value, std::move(input))
    .then(
      [tmpl = std::move(tmpl), signed_card](const bytes& sig) mutable {
        tmpl.signature = sig;
        signed_card(tmpl);
      },
      [rp](const caf::error& e) mutable { rp.deliver(e); });
}

caf::behavior crypto_actor(crypto_actor_t* self, crypto_setup setup) {
  self->state.setup = std::move(setup);
  return {
    // Our card, signed and installed at start (addresses known once routing listens) and renewed later
    // (node/card_keeper.cpp): renew_now always, renew_when_due once half its validity has passed
    // (e2ee::plan_renewal), both rotating the signed prekey when due; renew_rotating now with a new one (refused
    // while a valid card may still name the previous one).
    // -> (card text, or "" when not due; rotated; state changes to write)
    [=](renew_atom, const std::vector<std::string>& addresses, std::int32_t mode) -> caf::result<std::string, bool, store::ops> {
      auto& st = self->state;
      auto& g = *st.setup.engine;
      const auto validity = std::int64_t{st.setup.cfg.card_validity_days} * 24 * 3600 * 1000;
      const auto now = g.environment().now_unix_ms();
      g.forget_expired_prekeys(now);  // on time, also on an idle node (the keeper asks hourly)
      auto plan = e2ee::plan_renewal(g, now, validity, mode != renew_when_due);
      if (!plan.renew) return caf::result<std::string, bool, store::ops>(std::string(), false, st.changes());
      if (mode == renew_rotating) {
        if (!g.signed_prekey_rotation_safe(now)) {
          const auto left_h = (g.previous_signed_prekey_until_ms() - now) / 3600000 + 1;
          return to_caf(error{errc::conflict, "the previous signed prekey stays for another " + std::to_string(left_h) +
                                                " h, for cards of ours (or messages sealed from them) still valid; "
                                                "a new one now would retire it: try again after that"});
        }
        plan.rotate = true;
      }
      if (auto r = e2ee::check_card_fields(addresses, {}); !r) return to_caf(r.err());
      if (plan.rotate) g.rotate_signed_prekey();
      auto rp = self->make_response_promise<std::string, bool, store::ops>();
      sign_template(self, g.card_template(addresses, {}, validity), rp, [=](const e2ee::contact_card& c) mutable {
        if (auto r = self->state.setup.engine->set_own_card(e2ee::encode_card(c)); !r) {
          rp.deliver(to_caf(r.err()));
          return;
        }
        rp.deliver(e2ee::card_to_text(c), plan.rotate, self->state.changes());
      });
      return rp;
    },
    // A card signed on request (aqua card export --capability ... while a daemon runs): the same keys as ours,
    // the caller's addresses and capabilities. Not installed: the card our first messages carry stays our own.
    // -> (card text, state changes to write)
    [=](card_atom, const std::vector<std::string>& addresses, const std::vector<std::string>& capabilities,
        std::int64_t validity_ms) -> caf::result<std::string, store::ops> {
      if (auto r = e2ee::check_card_fields(addresses, capabilities); !r) return to_caf(r.err());
      auto rp = self->make_response_promise<std::string, store::ops>();
      // Its expiry is recorded as one of the signed prekey's cards (kept that long after a rotation).
      sign_template(self, self->state.setup.engine->card_template(addresses, capabilities, validity_ms), rp,
                    [=](const e2ee::contact_card& c) mutable { rp.deliver(e2ee::card_to_text(c), self->state.changes()); });
      return rp;
    },
    // -> (envelope, message id hex, expires_ms, state changes)
    [=](seal_atom, const std::string& recipient, const bytes& payload, std::uint64_t ttl_ms,
        const std::string& id_hex) -> caf::result<bytes, std::string, std::int64_t, store::ops> {
      auto m = self->state.seal_one(recipient, payload, ttl_ms, id_hex);
      if (m.failure) return to_caf(*m.failure);
      return caf::result<bytes, std::string, std::int64_t, store::ops>(std::move(m.envelope), m.message_id, m.expires_ms,
                                                                      self->state.changes());
    },
    // Several at once: one outcome each, in order, and the engine changes of all.
    [=](seal_many_atom, const seal_requests& reqs) -> caf::result<sealed_messages, store::ops> {
      sealed_messages out;
      out.reserve(reqs.size());
      for (auto& r : reqs) out.push_back(self->state.seal_one(r.recipient, r.inner, r.ttl_ms, r.id_hex));
      return caf::result<sealed_messages, store::ops>(std::move(out), self->state.changes());
    },
    // Several envelopes at once: one outcome each, in order, and the engine
    // changes of all of them (to be written in one batch with their records).
    [=](open_many_atom, const open_requests& reqs) -> caf::result<opened_messages, store::ops> {
      opened_messages out;
      out.reserve(reqs.size());
      for (auto& r : reqs) out.push_back(self->state.open_one(r.frame, r.likely_sender, r.live));
      return caf::result<opened_messages, store::ops>(std::move(out), self->state.changes());
    },
  };
}

} // namespace

caf::actor spawn_crypto(caf::actor_system& sys, crypto_setup setup) { return sys.spawn(crypto_actor, std::move(setup)); }

} // namespace aqua::actors
