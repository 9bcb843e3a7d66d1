// located_error: a plugin's error about a config entry, with the file, line
// and key path the user has to look at (the loader recorded them).
#include <string_view>

#include "aqua/config.hpp"

namespace aqua {
namespace {

bool key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// `key` appears in `text` as a word of its own (not inside a longer key).
bool names_key(std::string_view text, std::string_view key) {
  if (key.empty()) return false;
  for (auto at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
    bool starts = at == 0 || !key_char(text[at - 1]);
    bool ends = at + key.size() == text.size() || !key_char(text[at + key.size()]);
    if (starts && ends) return true;
  }
  return false;
}

// The only key of `settings` for which `named` holds, or nullptr (none or several).
template <class Pred>
const std::string* the_one_named(const std::map<std::string, std::string>& settings, Pred named) {
  const std::string* found = nullptr;
  for (auto& kv : settings)
    if (named(kv.first)) {
      if (found) return nullptr;
      found = &kv.first;
    }
  return found;
}

bool loading_failure(errc code) {
  return code == errc::plugin_not_found || code == errc::plugin_load_failed || code == errc::plugin_abi_mismatch ||
         code == errc::plugin_missing_symbol || code == errc::plugin_name_mismatch;
}

// "listen[N]" where `text` names a listen address of the entry (a factory
// refusing an address it could never listen on), else "".
std::string listen_index(std::string_view text) {
  constexpr std::string_view key = "listen[";
  for (auto at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
    if (at > 0 && key_char(text[at - 1])) continue;
    auto end = at + key.size();
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (end > at + key.size() && end < text.size() && text[end] == ']')
      return std::string(text.substr(at, end + 1 - at));
  }
  return {};
}

} // namespace

error located_error(const node_config& cfg, const std::string& entry, const std::map<std::string, std::string>& settings,
                    const error& e) {
  std::string path = entry;
  if (loading_failure(e.code())) {
    path = entry + ".plugin";
  } else {
    // A quoted 'key' first: an "unknown setting 'x' (knows a, b)" message names other keys too.
    auto named = the_one_named(settings, [&](const std::string& key) { return names_key(e.message(), "'" + key + "'"); });
    if (!named) named = the_one_named(settings, [&](const std::string& key) { return names_key(e.message(), key); });
    // A listen address first: the address itself may contain a word that is also a setting's name.
    if (auto listen = listen_index(e.message()); !listen.empty()) path = entry + "." + listen;
    else if (named) path = entry + ".settings." + *named;
  }
  auto at = cfg.located.find(path);
  if (at == cfg.located.end()) at = cfg.located.find(path = entry);
  if (at == cfg.located.end()) return e;
  return error{e.code(), at->second + ": " + path + ": " + e.message()};
}

} // namespace aqua
