#include "agent/agent_directory.hpp"

#include <spdlog/spdlog.h>

#include "aqua/env.hpp"
#include "contacts/contact_book.hpp"
#include "core/bounded_read.hpp"
#include "identity/key_store.hpp"

namespace aqua::agents {

namespace fs = std::filesystem;

result<void> publish_card(const fs::path& dir, const std::string& name, const std::string& card_text) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error{errc::io_error, "agent_directory: cannot create " + dir.string() + ": " + ec.message()};
  return write_file_atomic(dir / (name + ".card"), card_text + "\n", 0644);
}

std::vector<directory_entry> scan_directory(const fs::path& dir) {
  std::vector<directory_entry> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  std::size_t seen = 0;
  for (; !ec && it != end && seen < 4096; it.increment(ec), ++seen) {
    auto p = it->path();
    if (p.extension() != ".card") continue;
    std::error_code kind_ec;
    if (!fs::is_regular_file(p, kind_ec)) {  // a FIFO would block the scan
      spdlog::warn("agent_directory: skipping {}: not a regular file", p.string());
      continue;
    }
    auto file = detail::read_file_bounded(p, 1u << 20, "card file", errc::bad_card);
    if (!file) {
      spdlog::warn("agent_directory: skipping {}: {}", p.string(), file.err().what());
      continue;
    }
    auto text = file->substr(0, file->find('\n'));
    auto raw = e2ee::card_from_text(text);
    if (!raw) {
      spdlog::warn("agent_directory: skipping {}: {}", p.string(), raw.err().what());
      continue;
    }
    auto card = e2ee::verify_card(*raw, system_env()->now_unix_ms());
    if (!card) {
      spdlog::warn("agent_directory: skipping {}: {}", p.string(), card.err().what());
      continue;
    }
    out.push_back({p.stem().string(), text, std::move(*raw), std::move(*card)});
  }
  return out;
}

std::string remote_address(const e2ee::contact_card& c) {
  for (auto& a : c.addresses)
    if (a.rfind("/memory/", 0) != 0) return a;
  return {};
}

result<void> add_trusted_contacts(node& n, const std::vector<std::pair<std::string, std::string>>& alias_and_card) {
  for (auto& [alias, text] : alias_and_card) {
    auto added = n.add_contact(text, alias, "verified");
    if (!added && added.err().code() == errc::invalid_argument && !alias.empty())
      added = n.add_contact(text, "", "verified");  // alias taken by another peer
    if (!added) return added.err();
    if (added->trust == "unverified")
      if (auto r = n.set_contact_trust(added->id.str(), "verified"); !r) return r.err();
  }
  return ok();
}

} // namespace aqua::agents
