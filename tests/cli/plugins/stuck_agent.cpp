// A test agent whose handlers never return: what `aqua serve`'s shutdown
// watchdog is for (tests/cli/test_serve_stop.py). Setting `entered`: a file
// it creates once a handler runs, so the test knows the agent is stuck.
// Setting `factory_ms`: how long its factory takes (a plugin slow to load).
#include <aqua/agent.hpp>

#include <chrono>
#include <fstream>
#include <thread>

namespace {

class stuck final : public aqua::agent {
 public:
  aqua::result<aqua::agent_payload> on_request(aqua::agent_context& ctx, const aqua::agent_message&) override {
    hang(ctx);
    return aqua::error{aqua::errc::io_error, "unreachable"};
  }
  void on_message(aqua::agent_context& ctx, const aqua::agent_message&) override { hang(ctx); }

 private:
  static void hang(aqua::agent_context& ctx) {
    std::ofstream(ctx.path_setting("entered", "entered")) << "in a handler that never returns\n";
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
};

aqua::result<std::unique_ptr<aqua::agent>> make(const aqua::agent_config& cfg) {
  if (auto r = aqua::check_setting_keys(cfg, {"entered", "factory_ms"}); !r) return r.err();
  if (auto it = cfg.settings.find("factory_ms"); it != cfg.settings.end())
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stoul(it->second)));
  return std::unique_ptr<aqua::agent>(new stuck());
}

} // namespace

AQUA_AGENT_PLUGIN(stuck, make)
