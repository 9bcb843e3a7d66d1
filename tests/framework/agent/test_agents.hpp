#pragma once
// Agents and config the agent runtime tests share: a teller that tells at
// start, a recorder of what its handlers got.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aqua/agent.hpp"
#include "aqua/config.hpp"
#include "support/test_dirs.hpp"

namespace aqua::test {

using namespace std::chrono_literals;

// A host config named `host` with agents `names` ("{plugin: test, name: alpha}, ..."), `transports` and
// `components` (YAML flow maps).
inline node_config agents_config(const temp_dir& tmp, const std::string& names, const std::string& transports = "[]",
                                 const std::string& components = "{}") {
  auto cfg = parse_config("node: {name: host}\ncomponents: " + components + "\ntransports: " + transports +
                            "\nagents: [" + names + "]\n",
                          "<test>", tmp.path());
  EXPECT_TRUE(cfg) << cfg.err().what();
  return *cfg;
}

// start(): tells `to` `count` messages "m0".."m<count-1>" of `size` bytes (topic/type "note").
class teller final : public agent {
 public:
  teller(std::string to, int count, std::size_t size = 0) : to_(std::move(to)), count_(count), size_(size) {}
  result<void> start(agent_context& ctx) override {
    for (int i = 0; i < count_; ++i) {
      auto body = "m" + std::to_string(i);
      body.resize(std::max(body.size(), size_), '.');
      if (auto r = ctx.tell(to_, agent_payload::text("note", body)); !r) return r.err();
    }
    done = true;
    return ok();
  }
  result<agent_payload> on_request(agent_context&, const agent_message&) override { return error{errc::not_found, "-"}; }
  std::atomic<bool> done{false};

 private:
  std::string to_;
  int count_;
  std::size_t size_;
};

// Records every tell once its handler is done; with `block_first`, the first handler signals `ready` after
// a second (every tell has arrived by then) and never finishes.
class recorder final : public agent {
 public:
  recorder(std::filesystem::path ready = {}) : ready_(std::move(ready)) {}
  result<agent_payload> on_request(agent_context&, const agent_message&) override { return error{errc::not_found, "-"}; }
  void on_message(agent_context&, const agent_message& m) override {
    if (!ready_.empty()) {
      std::this_thread::sleep_for(1s);
      write_text(ready_, "ready");
      std::this_thread::sleep_for(60s);  // killed meanwhile
    }
    std::lock_guard lock(mu);
    got.push_back(m.payload.text());
  }
  std::mutex mu;
  std::vector<std::string> got;

 private:
  std::filesystem::path ready_;
};

} // namespace aqua::test
