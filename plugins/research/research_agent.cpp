// Demo agent "research": on `research.brief` (body: the topic) asks the news
// agent and the data agent at once (request_all, one deadline) and combines
// their answers into a brief (JSON) for the writer.
// Settings: news ("news"), data ("data"), keywords (comma-separated, default
// "ev,electric,price,battery,charging"), deadline_ms (10000).

#include <aqua/agent.hpp>

#include <nlohmann/json.hpp>

namespace {

constexpr std::int64_t max_deadline_ms = 86'400'000;  // a day

class research final : public aqua::agent {
 public:
  aqua::result<aqua::agent_payload> on_request(aqua::agent_context& ctx, const aqua::agent_message& m) override {
    if (m.payload.type != "research.brief")
      return aqua::error{aqua::errc::invalid_argument, "research does not handle '" + m.payload.type + "'"};
    auto ms = aqua::int_setting(ctx, "deadline_ms", 10000, 1, max_deadline_ms);
    if (!ms) return ms.err();
    std::chrono::milliseconds deadline(*ms);
    auto keywords = ctx.setting("keywords", "ev,electric,price,battery,charging");
    ctx.note("asking news and data in parallel for '" + m.payload.text() + "'");
    auto answers = ctx.request_all({{ctx.setting("news", "news"), aqua::agent_payload::text("news.search", keywords)},
                                    {ctx.setting("data", "data"), aqua::agent_payload::text("data.stats", "price_usd")}},
                                   deadline);
    for (auto& a : answers)
      if (!a) return a.err();
    auto stats = nlohmann::json::parse(answers[1]->payload.text(), nullptr, false);
    if (stats.is_discarded()) return aqua::error{aqua::errc::bad_frame, "data agent sent invalid JSON"};
    nlohmann::json headlines = nlohmann::json::array();
    auto text = answers[0]->payload.text();
    std::size_t start = 0;
    while (start < text.size()) {  // one headline per line
      auto end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      if (end > start) headlines.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    nlohmann::json brief{{"topic", m.payload.text()}, {"keywords", keywords}, {"headlines", headlines},
                         {"stats", stats}};
    return aqua::agent_payload::text("research.brief", brief.dump());
  }
};

aqua::result<std::unique_ptr<aqua::agent>> make(const aqua::agent_config& cfg) {
  if (auto r = aqua::check_setting_keys(cfg, {"news", "data", "keywords", "deadline_ms"}); !r) return r.err();
  if (auto r = aqua::int_setting(cfg, "deadline_ms", 10000, 1, max_deadline_ms); !r) return r.err();
  return std::unique_ptr<aqua::agent>(new research());
}

} // namespace

AQUA_AGENT_PLUGIN(research, make)
