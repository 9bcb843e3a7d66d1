// An example agent built out of tree (examples/third_party_agent): answers
// every request with its body, prefixed by a setting, and counts what it
// answered. Its whole contract is <aqua/agent.hpp>: a class with handlers,
// a factory that checks the settings, and AQUA_AGENT_PLUGIN.
//
//   request "echo" with body "hi"   -> reply "echo" with body "<prefix>hi"
//   request "count"                 -> reply "count" with the number answered so far
//   any other type                  -> error not_supported (the requester sees its errc)

#include <aqua/agent.hpp>

#include <atomic>

namespace {

class echo final : public aqua::agent {
 public:
  explicit echo(std::string prefix) : prefix_(std::move(prefix)) {}

  // Runs on the agent's own actor: one request at a time, so no locking for the agent's state.
  aqua::result<aqua::agent_payload> on_request(aqua::agent_context& ctx, const aqua::agent_message& m) override {
    if (m.payload.type == "echo") {
      ++answered_;
      ctx.note("echoed " + std::to_string(m.payload.body.size()) + " bytes for " + m.sender.str());
      return aqua::agent_payload::text("echo", prefix_ + m.payload.text());
    }
    if (m.payload.type == "count") return aqua::agent_payload::text("count", std::to_string(answered_));
    return aqua::error{aqua::errc::not_supported, "echo answers 'echo' and 'count', not '" + m.payload.type + "'"};
  }

 private:
  std::string prefix_;
  std::uint64_t answered_ = 0;
};

// Called once when the daemon loads the plugin, before any agent starts: a bad setting stops the daemon there,
// with this error (prefixed with the agent's name).
aqua::result<std::unique_ptr<aqua::agent>> make(const aqua::agent_config& cfg) {
  if (auto r = aqua::check_setting_keys(cfg, {"prefix"}); !r) return r.err();
  auto it = cfg.settings.find("prefix");
  return std::unique_ptr<aqua::agent>(new echo(it == cfg.settings.end() ? "" : it->second));
}

} // namespace

AQUA_AGENT_PLUGIN(echo, make)
