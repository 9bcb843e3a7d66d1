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

} // namespace aqua::e2ee
