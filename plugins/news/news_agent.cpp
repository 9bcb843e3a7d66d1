// Demo agent "news": on `news.search` (body: comma-separated keywords)
// returns the bundled headlines (settings.headlines, a text file of
// "date | source | headline" lines, '#' comments) whose headline contains
// a keyword as a word prefix (case-insensitive), newest first, at most
// settings.max (default 6), one per line.

#include <aqua/agent.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool word_prefix(const std::string& text, const std::string& kw) {
  for (auto pos = text.find(kw); pos != std::string::npos; pos = text.find(kw, pos + 1))
    if (pos == 0 || !std::isalnum(static_cast<unsigned char>(text[pos - 1]))) return true;
  return false;
}

class news final : public aqua::agent {
 public:
  aqua::result<aqua::agent_payload> on_request(aqua::agent_context& ctx, const aqua::agent_message& m) override {
    if (m.payload.type != "news.search")
      return aqua::error{aqua::errc::invalid_argument, "news does not handle '" + m.payload.type + "'"};
    auto file = ctx.path_setting("headlines", "headlines.txt");
    std::ifstream in(file);
    if (!in) return aqua::error{aqua::errc::not_found, "cannot read headlines file " + file.string()};
    std::vector<std::string> keywords;
    auto body = lower(m.payload.text());
    for (std::size_t start = 0; start <= body.size();) {
      auto end = std::min(body.find(',', start), body.size());
      if (auto k = trim(body.substr(start, end - start)); !k.empty()) keywords.push_back(k);
      start = end + 1;
    }
    std::vector<std::string> hits;
    std::string line;
    for (int n = 0; n < 100000 && std::getline(in, line); ++n) {
      if (line.empty() || line[0] == '#') continue;
      auto bar = line.rfind('|');
      auto headline = lower(bar == std::string::npos ? line : line.substr(bar + 1));
      for (auto& k : keywords)
        if (word_prefix(headline, k)) {
          hits.push_back(trim(line));
          break;
        }
    }
    std::sort(hits.begin(), hits.end(), std::greater<>());  // ISO dates first: newest first
    auto setting = aqua::int_setting(ctx, "max", 6, 1, 1000);
    if (!setting) return setting.err();
    auto max = static_cast<std::size_t>(*setting);
    if (hits.size() > max) hits.resize(max);
    std::string out;
    for (auto& h : hits) out += h + "\n";
    ctx.note("matched " + std::to_string(hits.size()) + " headlines in " + file.filename().string());
    return aqua::agent_payload::text("news.results", out);
  }
};

aqua::result<std::unique_ptr<aqua::agent>> make(const aqua::agent_config& cfg) {
  if (auto r = aqua::check_setting_keys(cfg, {"headlines", "max"}); !r) return r.err();
  if (auto r = aqua::int_setting(cfg, "max", 6, 1, 1000); !r) return r.err();
  return std::unique_ptr<aqua::agent>(new news());
}

} // namespace

AQUA_AGENT_PLUGIN(news, make)
