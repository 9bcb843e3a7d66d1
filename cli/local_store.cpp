// Reading a node's store from the CLI when no daemon runs.

#include "local_store.hpp"

#include <filesystem>
#include <iostream>

#include "contacts/contact_store.hpp"
#include "identity/key_store.hpp"
#include "output.hpp"

namespace aqua::cli {

result<std::unique_ptr<store::db>> open_store(const global_options& g) {
  auto dir = resolve_data_dir(g.dir);
  if (!dir) return dir.err();
  std::error_code ec;
  if (!std::filesystem::exists(*dir, ec))
    return error{errc::no_identity, "no aqua data dir at '" + dir->string() + "'; " + init_hint(*dir)};
  auto at = paths_of(g);  // its store: under --dir, or the node.data_dir its config names
  if (!at) return at.err();
  // Anything else there (a store without its CURRENT file, a plain file) is for db::open to name.
  const auto sdir = at->data / store::dir_name;
  const bool there = std::filesystem::exists(sdir, ec);
  if (ec)  // a symlink loop, a dir we may not search: not "no messages"
    return error{errc::io_error, "cannot read store '" + sdir.string() + "': " + ec.message()};
  if (!there || (std::filesystem::is_directory(sdir, ec) && std::filesystem::is_empty(sdir, ec)))
    return std::unique_ptr<store::db>();
  auto db = store::db::open(sdir, false);
  if (!db && db.err().code() == errc::store_locked)
    return error{errc::store_locked,
                 db.err().message() + "; no daemon answers on its control socket, so another aqua command holds the "
                 "node (an 'aqua inbox watch' run without a daemon, 'aqua demo', or a daemon starting or stopping): "
                 "stop it, or run 'aqua serve' so that commands share the node through it"};
  return db;
}

control::alias_map stored_aliases(store::db& db) {
  control::alias_map out;
  (void) db.scan(contact_prefix, [&](std::string_view k, std::string_view v) {
    if (auto c = decode_contact_record(k, as_bytes(v)); c && !c->alias.empty()) out.emplace(c->id.str(), c->alias);
    return true;
  });
  return out;
}

void warn_unreadable(std::size_t n, const char* box) {
  if (n)
    std::cerr << "aqua: warning: " << n << " " << box << " record" << (n == 1 ? "" : "s") << " could not be read and "
              << (n == 1 ? "is" : "are") << " not listed: run 'aqua store check' for details\n";
}

} // namespace aqua::cli
