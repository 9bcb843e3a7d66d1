// Demo agent "orchestrator": runs the workflow. On a `workflow.run` request
// (body: the topic), or once at start with settings.run_on_start: "true",
// it asks the research agent for a brief, then the writer for the report.
// Settings: research (agent name, default "research"), writer ("writer"),
// topic ("electric vehicle prices"), deadline_ms (20000), run_on_start.

#include <aqua/agent.hpp>

#include <nlohmann/json.hpp>

namespace {

constexpr std::int64_t max_deadline_ms = 86'400'000;  // a day

class orchestrator final : public aqua::agent {
 public:
  aqua::result<void> start(aqua::agent_context& ctx) override {
    auto on_start = aqua::bool_setting(ctx.config(), "run_on_start", false);
    if (!on_start) return on_start.err();
    if (!*on_start) return aqua::ok();
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
    auto ms = aqua::int_setting(ctx, "deadline_ms", 20000, 1, max_deadline_ms);
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
  if (auto r = aqua::check_setting_keys(cfg, {"research", "writer", "topic", "deadline_ms", "run_on_start"}); !r)
    return r.err();
  if (auto r = aqua::int_setting(cfg, "deadline_ms", 20000, 1, max_deadline_ms); !r) return r.err();
  if (auto r = aqua::bool_setting(cfg, "run_on_start", false); !r) return r.err();
  return std::unique_ptr<aqua::agent>(new orchestrator());
}

} // namespace

AQUA_AGENT_PLUGIN(orchestrator, make)
