#include "store/engine_store.hpp"

#include <cstdio>


namespace aqua::store {

std::string hex_key(const char* prefix, std::uint64_t n) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(n));
  return std::string(prefix) + buf;
}

void ops::append_to(leveldb::WriteBatch& b) const {
  for (auto& [k, v] : items) {
    if (v) b.Put(k, *v);
    else b.Delete(k);
  }
}

ops engine_ops(const e2ee::engine::changes& c) {
  ops o;
  if (c.meta) o.put("e/meta", *c.meta);
  for (auto& [id, blob] : c.sessions) o.put(hex_key("e/s/", id), blob);
  for (auto id : c.removed) o.del(hex_key("e/s/", id));
  return o;
}

result<e2ee::engine> load_engine(db& store, const public_key& self, std::shared_ptr<env> e, e2ee::engine_limits limits) {
  auto meta = store.get("e/meta");
  if (!meta) return meta.err();
  std::optional<e2ee::engine> g;
  if (meta->has_value()) {
    std::vector<bytes> sessions;
    if (auto r = store.scan("e/s/", [&](std::string_view, std::string_view v) {
          sessions.emplace_back(v.begin(), v.end());
          return true;
        });
        !r)
      return r.err();
    auto loaded = e2ee::engine::load_parts(as_bytes(**meta), sessions, e, limits);
    if (!loaded) return error{loaded.err().code(), "E2EE state in store '" + store.path().string() + "': " + loaded.err().message()};
    if (!(loaded->self() == peer_id::from_public_key(self)))
      return error{errc::bad_session_state, "E2EE state in the store belongs to " + loaded->self().str()};
    return loaded;
  }
  auto fresh = e2ee::engine::create(self, e, limits);
  leveldb::WriteBatch b;
  engine_ops(fresh.take_changes()).append_to(b);
  if (auto r = store.write(std::move(b)); !r) return r.err();
  return fresh;
}

} // namespace aqua::store
