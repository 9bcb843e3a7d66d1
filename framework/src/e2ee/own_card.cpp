#include "e2ee/own_card.hpp"

namespace aqua::e2ee {

result<contact_card> make_own_card(engine& g, const signer& sign, std::vector<std::string> addresses,
                                   std::vector<std::string> capabilities, std::int64_t validity_ms) {
  if (auto r = check_card_fields(addresses, capabilities); !r) return r.err();
  auto c = g.card_template(std::move(addresses), std::move(capabilities), validity_ms);
  c.signature = sign(card_signing_input(c));
  auto encoded = encode_card(c);
  if (auto r = g.set_own_card(encoded); !r) return r.err();
  return c;
}

renewal_plan plan_renewal(const engine& g, std::int64_t now_ms, std::int64_t validity_ms, bool force) {
  renewal_plan p;
  auto own = g.own_card().empty() ? result<contact_card>(error{errc::not_found, ""}) : decode_card(g.own_card());
  p.renew = force || !own || now_ms - own->created_ms >= (own->expires_ms - own->created_ms) / 2;
  const auto published = g.signed_prekey_published_ms();
  p.rotate = p.renew && published != 0 && now_ms - published >= validity_ms / 2 && g.signed_prekey_rotation_safe(now_ms);
  return p;
}

} // namespace aqua::e2ee
