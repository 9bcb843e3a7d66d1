#include "e2ee/engine_file.hpp"

#include <fstream>
#include <iterator>

#include "identity/key_store.hpp"

namespace aqua::e2ee {

result<engine> load_or_create_engine(const std::filesystem::path& file, const public_key& self,
                                     std::shared_ptr<env> e, engine_limits limits) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return engine::create(self, std::move(e), limits);
  std::ifstream in(file, std::ios::binary);
  if (!in) return error{errc::io_error, "cannot read E2EE state '" + file.string() + "'"};
  bytes data((std::istreambuf_iterator<char>(in)), {});
  auto g = engine::load(data, std::move(e), limits);
  wipe(data);
  if (!g) return error{g.err().code(), "E2EE state '" + file.string() + "': " + g.err().message()};
  if (!(g->self() == peer_id::from_public_key(self)))
    return error{errc::bad_session_state, "E2EE state '" + file.string() + "' belongs to " + g->self().str() +
                                              ", not to this identity; move it away to start fresh"};
  return g;
}

result<void> save_engine(const std::filesystem::path& file, const engine& g) {
  auto data = g.save();
  std::string s(data.begin(), data.end());
  wipe(data);
  auto r = write_file_atomic(file, s, 0600);
  wipe(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(s.data()), s.size()));
  return r;
}

result<contact_card> make_own_card(engine& g, const signer& sign, std::vector<std::string> addresses,
                                   std::vector<std::string> capabilities, std::int64_t validity_ms) {
  auto c = g.card_template(std::move(addresses), std::move(capabilities), validity_ms);
  c.signature = sign(card_signing_input(c));
  auto encoded = encode_card(c);
  if (auto r = g.set_own_card(encoded); !r) return r.err();
  return c;
}

} // namespace aqua::e2ee
