// Demo agent "writer": on `report.write` (body: the research brief, JSON)
// writes a Markdown report to settings.output (default: report.md in its
// data dir), atomically. With settings.reviewer it first asks that agent
// (e.g. the Python reviewer, examples/python_agent) to review the text
// (`report.review`) and writes the verdict next to it (<output>.review.txt).
// Replies `report.written`: {"path", "bytes", "reviewed_by", "review"}.

#include <aqua/agent.hpp>

#include <nlohmann/json.hpp>

#include <fstream>

namespace {

constexpr std::int64_t max_deadline_ms = 86'400'000;  // a day

std::string money(long v) {
  auto digits = std::to_string(v);
  std::string out = "$";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string render(const nlohmann::json& brief) {
  const auto& st = brief.at("stats");
  std::string md;
  md += "# Report: " + brief.value("topic", std::string("(no topic)")) + "\n\n";
  md += "_Written by the aqua demo agents from bundled sample data (made up, not real prices)._\n\n";
  md += "## Summary\n\n";
  md += "- Models compared: " + std::to_string(st.at("count").get<long>()) + "\n";
  md += "- Price range: " + money(st.at("min").get<long>()) + " to " + money(st.at("max").get<long>()) + "\n";
  md += "- Mean price: " + money(st.at("mean").get<long>()) + ", median " + money(st.at("median").get<long>()) + "\n";
  md += "- Cheapest: " + st.at("cheapest").get<std::string>() + "; priciest: " + st.at("priciest").get<std::string>() + "\n";
  md += "- Best value: " + st.at("best_value").get<std::string>() + " (" +
        money(st.at("best_value_usd_per_km").get<long>()) + " per km of range)\n\n";
  md += "## Prices by maker\n\n| maker | models | min | mean | max |\n|---|---:|---:|---:|---:|\n";
  for (auto& m : st.at("makers"))
    md += "| " + m.at("maker").get<std::string>() + " | " + std::to_string(m.at("models").get<long>()) + " | " +
          money(m.at("min").get<long>()) + " | " + money(m.at("mean").get<long>()) + " | " +
          money(m.at("max").get<long>()) + " |\n";
  md += "\n## Headlines (keywords: " + brief.value("keywords", std::string()) + ")\n\n";
  for (auto& h : brief.at("headlines")) md += "- " + h.get<std::string>() + "\n";
  md += "\n## Sources\n\n- statistics: " + st.value("source", std::string("?")) +
        " (data agent)\n- headlines: bundled headlines file (news agent)\n";
  return md;
}

aqua::result<void> write_atomic(const std::filesystem::path& file, const std::string& text) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  auto tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return aqua::error{aqua::errc::io_error, "cannot write " + tmp.string()};
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) return aqua::error{aqua::errc::io_error, "cannot rename to " + file.string() + ": " + ec.message()};
  return aqua::ok();
}

class writer final : public aqua::agent {
 public:
  aqua::result<aqua::agent_payload> on_request(aqua::agent_context& ctx, const aqua::agent_message& m) override {
    if (m.payload.type != "report.write")
      return aqua::error{aqua::errc::invalid_argument, "writer does not handle '" + m.payload.type + "'"};
    auto brief = nlohmann::json::parse(m.payload.text(), nullptr, false);
    if (brief.is_discarded() || !brief.is_object() || !brief.contains("stats") || !brief.contains("headlines"))
      return aqua::error{aqua::errc::invalid_argument, "report.write needs a research brief (JSON)"};
    std::string md;
    try {
      md = render(brief);
    } catch (const nlohmann::json::exception& e) {
      return aqua::error{aqua::errc::invalid_argument, std::string("brief is incomplete: ") + e.what()};
    }
    auto out = ctx.path_setting("output");
    if (out.empty()) out = ctx.data_dir() / "report.md";
    nlohmann::json result{{"path", out.string()}, {"bytes", md.size()}};
    if (auto reviewer = ctx.setting("reviewer"); !reviewer.empty()) {
      auto ms = aqua::int_setting(ctx, "review_deadline_ms", 10000, 1, max_deadline_ms);
      if (!ms) return ms.err();
      std::chrono::milliseconds deadline(*ms);
      auto review = ctx.request(reviewer, aqua::agent_payload::text("report.review", md), deadline);
      if (!review) return review.err();
      auto verdict = review->payload.text();
      auto review_file = out;
      review_file += ".review.txt";
      if (auto r = write_atomic(review_file, verdict + "\n"); !r) return r.err();
      result["reviewed_by"] = reviewer;
      result["review"] = verdict;
    }
    if (auto r = write_atomic(out, md); !r) return r.err();
    ctx.note("wrote " + std::to_string(md.size()) + " bytes to " + out.string());
    return aqua::agent_payload::text("report.written", result.dump());
  }
};

aqua::result<std::unique_ptr<aqua::agent>> make(const aqua::agent_config& cfg) {
  if (auto r = aqua::check_setting_keys(cfg, {"output", "reviewer", "review_deadline_ms"}); !r) return r.err();
  if (auto r = aqua::int_setting(cfg, "review_deadline_ms", 10000, 1, max_deadline_ms); !r) return r.err();
  return std::unique_ptr<aqua::agent>(new writer());
}

} // namespace

AQUA_AGENT_PLUGIN(writer, make)
