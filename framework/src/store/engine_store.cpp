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

result<stored_engine> read_engine(db& store, const std::optional<peer_id>& self, std::shared_ptr<env> e,
                                  e2ee::engine_limits limits) {
  stored_engine out;
  auto meta = store.get("e/meta");
  if (!meta) return meta.err();
  out.has_meta = meta->has_value();
  std::vector<bytes> sessions;
  if (auto r = store.scan("e/s/", [&](std::string_view, std::string_view v) {
        sessions.emplace_back(v.begin(), v.end());
        return true;
      });
      !r)
    return r.err();
  if (out.has_meta) {
    auto loaded = e2ee::engine::load_parts(as_bytes(**meta), sessions, e, limits);
    if (!loaded) {
      out.problem = loaded.err();
      out.unreadable = true;
    } else if (self && !(loaded->self() == *self)) {
      out.problem = error{errc::bad_session_state, "store '" + store.path().string() + "': the E2EE state belongs to " +
                                                       loaded->self().str() + ", not to this node's key (" +
                                                       self->str() + "): the key file was replaced; put back the key "
                                                       "that goes with this store, or move the store aside to start "
                                                       "this identity afresh"};
    } else {
      out.engine = std::move(*loaded);
    }
    return out;
  }
  // No engine yet: a store that has never run one. Sessions without it are a damaged store (its e/meta record
  // lost): a fresh engine would drop every session silently, and peers' messages would never open again.
  if (!sessions.empty()) {
    out.problem = error{errc::bad_session_state,
                        "store '" + store.path().string() + "' holds " + std::to_string(sessions.size()) + " E2EE session" +
                          (sessions.size() == 1 ? "" : "s") + " but not the engine record they belong to (e/meta): the "
                          "store was damaged. Restore it from a backup; or, to start with new E2EE state, move the store "
                          "aside (your peers then need your new card, and your contacts and messages stay in the old "
                          "store)"};
    return out;
  }
  // Messages without any engine state: the engine that sealed and opened them is gone (both its records lost).
  bool messages = false;
  for (const char* prefix : {"i/", "o/"})
    if (auto r = store.scan(prefix, [&](std::string_view, std::string_view) { return messages = true, false; }); !r)
      return r.err();
  if (messages)
    out.problem = error{errc::bad_session_state,
                        "store '" + store.path().string() + "' holds messages but no E2EE state (e/meta): the store was "
                        "damaged, and a fresh engine would leave every peer's session broken. Restore it from a backup; "
                        "or, to start with new E2EE state, move the store aside (your peers then need your new card)"};
  return out;
}

result<e2ee::engine> load_engine(db& store, const public_key& self, std::shared_ptr<env> e, e2ee::engine_limits limits) {
  auto stored = read_engine(store, peer_id::from_public_key(self), e, limits);
  if (!stored) return stored.err();
  if (stored->unreadable)
    return error{stored->problem->code(), "E2EE state in store '" + store.path().string() + "': " + stored->problem->message()};
  if (stored->problem) return *stored->problem;
  if (stored->engine) return std::move(*stored->engine);
  auto fresh = e2ee::engine::create(self, e, limits);
  leveldb::WriteBatch b;
  engine_ops(fresh.take_changes()).append_to(b);
  if (auto r = store.write(std::move(b)); !r) return r.err();
  return fresh;
}

} // namespace aqua::store
