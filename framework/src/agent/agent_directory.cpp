#include "agent/agent_directory.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "aqua/env.hpp"
#include "contacts/contact_book.hpp"
#include "core/bounded_read.hpp"
#include "identity/key_store.hpp"

namespace aqua::agents {

namespace fs = std::filesystem;

namespace {

std::string mode_text(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

} // namespace

result<void> publish_card(const fs::path& dir, const std::string& name, const std::string& card_text) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error{errc::io_error, "agent_directory: cannot create " + dir.string() + ": " + ec.message()};
  return write_file_atomic(dir / (name + ".card"), card_text + "\n", 0644);
}

result<void> prepare_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error{errc::io_error, "agent_directory: cannot create " + dir.string() + ": " + ec.message()};
  return check_directory(dir);
}

result<void> check_directory(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return ok();
    return error{errc::io_error, "agent_directory: " + dir.string() + ": " + std::strerror(errno)};
  }
  if (!S_ISDIR(st.st_mode)) return error{errc::config_bad_value, "agent_directory: " + dir.string() + " is not a directory"};
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    return error{errc::config_bad_value, "agent_directory: " + dir.string() + " belongs to uid " + std::to_string(st.st_uid) +
                                             ", not to this user: its owner could claim the names of agents"};
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return error{errc::config_bad_value, "agent_directory: " + dir.string() + " is writable by group or others (mode " +
                                             mode_text(st.st_mode) + "): anyone who can write a card there can "
                                             "claim an agent's name; chmod go-w " + dir.string()};
  return ok();
}

std::vector<directory_entry> scan_directory(const fs::path& dir, std::set<std::string>* warned) {
  std::vector<directory_entry> out;
  // Warned about once per file version (path, size, mtime), not on every rescan.
  auto skip = [warned](const fs::path& p, const std::string& why) {
    std::error_code e1, e2;
    auto key = p.string() + "|" + std::to_string(fs::file_size(p, e1)) + "|" +
               std::to_string(fs::last_write_time(p, e2).time_since_epoch().count());
    if (warned && !warned->insert(key).second) return;
    spdlog::warn("agent_directory: skipping {}: {}", p.string(), why);
  };
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  std::size_t cards = 0, entries = 0;  // other files do not count against the cards, but the walk is bounded
  for (; !ec && it != end && cards < max_directory_cards && entries < 16 * max_directory_cards; it.increment(ec), ++entries) {
    auto p = it->path();
    if (p.extension() != ".card") continue;
    ++cards;
    if (p.stem().string().empty() || p.stem().string()[0] == '-') {  // names agents and aliases cannot have
      skip(p, "a name must start with a letter or digit");
      continue;
    }
    std::error_code kind_ec;
    if (!fs::is_regular_file(p, kind_ec)) {  // a FIFO would block the scan
      skip(p, "not a regular file");
      continue;
    }
    auto file = detail::read_file_bounded(p, 1u << 20, "card file", errc::bad_card);
    if (!file) {
      skip(p, file.err().what());
      continue;
    }
    auto text = file->substr(0, file->find('\n'));
    auto raw = e2ee::card_from_text(text);
    if (!raw) {
      skip(p, raw.err().what());
      continue;
    }
    auto card = e2ee::verify_card(*raw, system_env()->now_unix_ms());
    if (!card) {
      skip(p, card.err().what());
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
    if (!added && added.err().code() == errc::conflict && !alias.empty()) {
      // The alias names another peer (a contact the user added): that one keeps it, so `send <alias>` goes there.
      spdlog::warn("node {}: the alias '{}' already names another contact; the agent '{}' is added without it "
                   "(sending to '{}' reaches that contact, not the agent: rename one of them)",
                   n.config().name, alias, alias, alias);
      added = n.add_contact(text, "", "verified");
    }
    if (!added) return added.err();
    if (added->trust == "unverified")
      if (auto r = n.set_contact_trust(added->id.str(), "verified"); !r) return r.err();
  }
  return ok();
}

} // namespace aqua::agents
