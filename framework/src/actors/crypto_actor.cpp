// The crypto actor: frames and signs outgoing payloads (via the identity
// actor) and verifies incoming frames. A thin shell around the sans-I/O
// codec in wire/frame.hpp; the End-to-end encryption issue replaces the
// signed frame with the encrypted envelope here.

#include <sodium.h>

#include "actors/protocol.hpp"
#include "wire/frame.hpp"

namespace aqua::actors {
namespace {

struct crypto_state {
  caf::actor identity;
  peer_id self;
  crypto_config cfg;
  static inline const char* name = "aqua.crypto";
};

caf::behavior crypto_actor(caf::stateful_actor<crypto_state>* self, caf::actor identity, peer_id me,
                           crypto_config cfg) {
  self->state.identity = std::move(identity);
  self->state.self = std::move(me);
  self->state.cfg = cfg;
  return {
    // -> (frame bytes, message id hex)
    [=](seal_atom, const std::string& recipient, const bytes& payload) -> caf::result<bytes, std::string> {
      auto to = peer_id::parse(recipient);
      if (!to) return to_caf(to.err());
      if (payload.size() > self->state.cfg.max_frame_bytes)
        return to_caf(error{errc::frame_too_large, "payload of " + std::to_string(payload.size()) +
                                                       " bytes exceeds crypto.max_frame_bytes " +
                                                       std::to_string(self->state.cfg.max_frame_bytes)});
      auto f = std::make_shared<wire::frame>();
      f->sender = self->state.self.key();
      f->recipient = *to;
      randombytes_buf(f->message_id.data(), f->message_id.size());
      f->payload = payload;
      auto rp = self->make_response_promise<bytes, std::string>();
      self->request(self->state.identity, caf::infinite, sign_atom::value, wire::signing_input(*f))
        .then([=](const bytes& sig) mutable {
          f->signature = sig;
          rp.deliver(wire::encode(*f), to_hex(f->message_id));
        },
              [=](const caf::error& e) mutable { rp.deliver(e); });
      return rp;
    },
    // -> (sender peer id, message id hex, payload)
    [=](open_atom, const bytes& data) -> caf::result<std::string, std::string, bytes> {
      auto f = wire::open(data, self->state.cfg.max_frame_bytes, self->state.self);
      if (!f) return to_caf(f.err());
      return caf::result<std::string, std::string, bytes>(peer_id::from_public_key(f->sender).str(),
                                                          to_hex(f->message_id), std::move(f->payload));
    },
  };
}

} // namespace

caf::actor spawn_crypto(caf::actor_system& sys, caf::actor identity, peer_id self, crypto_config cfg) {
  return sys.spawn(crypto_actor, std::move(identity), std::move(self), cfg);
}

} // namespace aqua::actors
