// Demo agent "orchestrator": runs the workflow. On a `workflow.run` request
// (body: the topic), or once at start with settings.run_on_start: "true",
// it asks the research agent for a brief, then the writer for the report.
// Settings: research (agent name, default "research"), writer ("writer"),
// topic ("electric vehicle prices"), deadline_ms (20000), run_on_start.

#include <aqua/agent.hpp>

#include <nlohmann/json.hpp>

namespace {

class orchestrator final : public aqua::agent {
 public:
  aqua::result<void> start(aqua::agent_context& ctx) override {
    if (ctx.setting("run_on_start") != "true") return aqua::ok();
    auto r = run(ctx, ctx.setting("topic", "electric vehicle prices"));
    if (!r) return r.err();
    ctx.note("workflow.done " + r->text());
    return aqua::ok();
  }

  aqua::result<aqua::agent_payload> on_request(aqua::agent_context& ctx, const aqua::agent_message& m) override {
    if (m.payload.type != "workflow.run")
      return aqua::error{aqua::errc::invalid_argument, "orchestrator does not handle '" + m.payload.type + "'"};
    auto topic = m.payload.text();
    return run(ctx, topic.empty() ? ctx.setting("topic", "electric vehicle prices") : topic);
  }

 private:
  aqua::result<aqua::agent_payload> run(aqua::agent_context& ctx, const std::string& topic) {
    auto ms = aqua::int_setting(ctx, "deadline_ms", 20000, 1);
    if (!ms) return ms.err();
    std::chrono::milliseconds deadline(*ms);
    ctx.note("plan for '" + topic + "': research (news + data in parallel), then write the report");
    auto brief = ctx.request(ctx.setting("research", "research"), aqua::agent_payload::text("research.brief", topic), deadline);
    if (!brief) return brief.err();
    auto report = ctx.request(ctx.setting("writer", "writer"),
                              aqua::agent_payload{"report.write", brief->payload.body}, deadline);
    if (!report) return report.err();
    return aqua::agent_payload{"workflow.done", report->payload.body};
  }
};

aqua::result<std::unique_ptr<aqua::agent>> make(const aqua::agent_config& cfg) {
  auto d = cfg.settings.find("deadline_ms");
  if (d != cfg.settings.end() && (d->second.empty() || d->second.find_first_not_of("0123456789") != std::string::npos ||
                                  d->second.size() > 7))
    return aqua::error{aqua::errc::config_bad_value, "settings.deadline_ms must be a number of milliseconds"};
  return std::unique_ptr<aqua::agent>(new orchestrator());
}

} // namespace

AQUA_AGENT_PLUGIN(orchestrator, make)
