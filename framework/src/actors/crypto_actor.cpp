// The crypto actor: a thin shell around the sans-I/O E2EE engine. It seals
// payloads into envelopes for contacts, opens envelopes, applies the trust
// policy (blocked / unknown senders) and persists the engine state, throttled
// and on exit. Its own card is signed by the identity actor at start.

#include <spdlog/spdlog.h>

#include <sodium.h>

#include "actors/protocol.hpp"
#include "contacts/contact_book.hpp"
#include "e2ee/engine_file.hpp"

namespace aqua::actors {
namespace {

using save_atom = caf::atom_constant<caf::atom("save")>;
constexpr auto save_delay = std::chrono::milliseconds(200);

struct crypto_state {
  crypto_setup setup;
  std::filesystem::file_time_type book_mtime{};
  bool dirty = false;
  bool save_scheduled = false;
  static inline const char* name = "aqua.crypto";

  void save_now() {
    if (!dirty || !setup.engine) return;
    if (auto r = e2ee::save_engine(setup.state_file, *setup.engine); !r)
      spdlog::error("crypto: cannot save E2EE state: {}", r.err().what());
    else
      dirty = false;
  }
  // The CLI may edit contacts.json while the node runs: reload when it changed.
  void refresh_book() {
    std::error_code ec;
    auto t = std::filesystem::last_write_time(setup.contacts_file, ec);
    if (ec || t == book_mtime) return;
    if (auto b = contact_book::load(setup.contacts_file)) {
      setup.book = std::move(*b);
      book_mtime = t;
    } else {
      spdlog::warn("crypto: keeping previous contacts: {}", b.err().what());
    }
  }
  ~crypto_state() { save_now(); }
};

using crypto_actor_t = caf::stateful_actor<crypto_state>;

void mark_dirty(crypto_actor_t* self) {
  self->state.dirty = true;
  if (self->state.save_scheduled) return;
  self->state.save_scheduled = true;
  self->delayed_send(self, save_delay, save_atom::value);
}

caf::behavior crypto_actor(crypto_actor_t* self, crypto_setup setup) {
  self->state.setup = std::move(setup);
  self->state.refresh_book();
  return {
    // Sign and install our card (addresses known once routing listens).
    [=](init_atom, const std::vector<std::string>& addresses) -> caf::result<std::string> {
      auto& st = self->state;
      auto days = std::int64_t{st.setup.cfg.card_validity_days};
      auto tmpl = st.setup.engine->card_template(addresses, {}, days * 24 * 3600 * 1000);
      auto rp = self->make_response_promise<std::string>();
      self->request(st.setup.identity, caf::infinite, sign_atom::value, e2ee::card_signing_input(tmpl))
        .then(
          [=](const bytes& sig) mutable {
            auto c = tmpl;
            c.signature = sig;
            if (auto r = self->state.setup.engine->set_own_card(e2ee::encode_card(c)); !r) {
              rp.deliver(to_caf(r.err()));
              return;
            }
            mark_dirty(self);
            self->state.save_now();
            rp.deliver(e2ee::card_to_text(c));
          },
          [=](const caf::error& e) mutable { rp.deliver(e); });
      return rp;
    },
    // -> (envelope bytes, message id hex)
    [=](seal_atom, const std::string& recipient, const bytes& payload) -> caf::result<bytes, std::string> {
      auto& st = self->state;
      auto to = peer_id::parse(recipient);
      if (!to) return to_caf(to.err());
      st.refresh_book();
      const contact* c = st.setup.book.find(*to);
      if (c && c->trust == trust_state::blocked)
        return to_caf(error{errc::sender_blocked, recipient + " is blocked in the contact book"});
      std::optional<e2ee::contact_card> card;
      auto now = st.setup.engine->environment().now_unix_ms();
      if (c && !st.setup.engine->has_session(*to)) {
        auto v = e2ee::verify_card(c->card, now);
        if (!v) return to_caf(error{v.err().code(), "contact card of " + recipient + ": " + v.err().message()});
        card = std::move(*v);
      }
      std::array<std::uint8_t, e2ee::message_id_size> id{};
      randombytes_buf(id.data(), id.size());
      auto env = st.setup.engine->seal(*to, card ? &*card : nullptr, payload, id,
                                       now + std::int64_t{st.setup.cfg.default_ttl_s} * 1000);
      if (!env) return to_caf(env.err());
      mark_dirty(self);
      return caf::result<bytes, std::string>(std::move(*env), to_hex(id));
    },
    // -> (sender, message id hex, payload, trust, quarantined)
    [=](open_atom, const bytes& data) -> caf::result<std::string, std::string, bytes, std::string, bool> {
      auto& st = self->state;
      auto m = st.setup.engine->open(data);
      if (!m) return to_caf(m.err());
      mark_dirty(self);
      st.refresh_book();
      const contact* c = st.setup.book.find(m->sender);
      std::string trust = c ? std::string(to_string(c->trust)) : "unknown";
      if (c && c->trust == trust_state::blocked)
        return to_caf(error{errc::sender_blocked, "message from blocked contact " + m->sender.str() + " rejected"});
      bool quarantined = c == nullptr;
      if (quarantined && st.setup.cfg.unknown_senders == "reject")
        return to_caf(error{errc::unknown_sender, "message from unknown sender " + m->sender.str() +
                                                      " rejected (crypto.unknown_senders: reject)"});
      return caf::result<std::string, std::string, bytes, std::string, bool>(m->sender.str(), m->message_id,
                                                                             std::move(m->payload), trust, quarantined);
    },
    [=](save_atom) {
      self->state.save_scheduled = false;
      self->state.save_now();
    },
  };
}

} // namespace

caf::actor spawn_crypto(caf::actor_system& sys, crypto_setup setup) { return sys.spawn(crypto_actor, std::move(setup)); }

} // namespace aqua::actors
