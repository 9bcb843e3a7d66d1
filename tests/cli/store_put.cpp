// Test helper: writes one raw key/value into a node's LevelDB store (synced),
// as a newer aqua or a damaged disk might have left it. The store must exist
// and no node may have it open.
// Usage: store_put <data dir>/store <key> <value as hex | --delete>
#include <cstdio>
#include <string_view>

#include "store/store.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: store_put <store dir> <key> <value hex | --delete>\n");
    return 2;
  }
  const bool del = std::string_view(argv[3]) == "--delete";
  auto value = aqua::from_hex(del ? "" : argv[3]);
  if (!value) {
    std::fprintf(stderr, "store_put: bad hex value: %s\n", value.err().what().c_str());
    return 2;
  }
  auto db = aqua::store::db::open(argv[1], false);
  if (!db) {
    std::fprintf(stderr, "store_put: %s\n", db.err().what().c_str());
    return 1;
  }
  leveldb::WriteBatch b;
  if (del) b.Delete(argv[2]);
  else b.Put(argv[2], leveldb::Slice(reinterpret_cast<const char*>(value->data()), value->size()));
  if (auto r = (*db)->write(std::move(b)); !r) {
    std::fprintf(stderr, "store_put: %s\n", r.err().what().c_str());
    return 1;
  }
  return 0;
}
