#pragma once
// Private: the E2EE engine's state in the store (e/meta and one e/s/<id>
// key per session), written in the same batch as the message records that
// depend on it: a sealed envelope is never transmitted, nor a received one
// acknowledged, before the ratchet state behind it is durable.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "e2ee/engine.hpp"
#include "store/store.hpp"

namespace aqua::store {

struct ops {
  std::vector<std::pair<std::string, std::optional<std::string>>> items;  // value empty = delete
  void put(std::string key, bytes_view value) { items.emplace_back(std::move(key), std::string(value.begin(), value.end())); }
  void put(std::string key, std::string value) { items.emplace_back(std::move(key), std::move(value)); }
  void del(std::string key) { items.emplace_back(std::move(key), std::nullopt); }
  void append_to(leveldb::WriteBatch& b) const;
  bool empty() const { return items.empty(); }
};

ops engine_ops(const e2ee::engine::changes& c);

// The E2EE state a store holds, checked as a node loads it (load_engine) and as `aqua store check` reports it:
// `engine` when it loads (and belongs to `self`, if given); neither when the store has none yet (nor sessions or
// messages); `problem` when a node must not start on it: state that does not load (`unreadable`: the codec's error
// as it is), another identity's state, sessions or messages without their engine record (e/meta). The result's
// own errors are the store's.
struct stored_engine {
  std::optional<e2ee::engine> engine;
  std::optional<error> problem;
  bool unreadable = false;
  bool has_meta = false;  // e/meta is there
};
result<stored_engine> read_engine(db& store, const std::optional<peer_id>& self, std::shared_ptr<env> e,
                                  e2ee::engine_limits limits = {});
// Loads the engine from the store (read_engine; a problem is the error), or creates fresh keys and writes them.
result<e2ee::engine> load_engine(db& store, const public_key& self, std::shared_ptr<env> e,
                                 e2ee::engine_limits limits = {});

std::string hex_key(const char* prefix, std::uint64_t n);

} // namespace aqua::store
