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
// Loads the engine from the store, or creates fresh keys and writes them.
result<e2ee::engine> load_engine(db& store, const public_key& self, std::shared_ptr<env> e,
                                 e2ee::engine_limits limits = {});

std::string hex_key(const char* prefix, std::uint64_t n);

} // namespace aqua::store
