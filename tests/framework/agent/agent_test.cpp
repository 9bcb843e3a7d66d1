// Agents: request/reply with deadlines between in-process agents (each its
// own node and identity), agent plugin loading, and the demo workflow in
// one host and split across two hosts over zmq.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "agent/agent_directory.hpp"
#include "agent/agent_frame.hpp"
#include "agent/agent_transports.hpp"
#include "aqua/agent.hpp"
#include "aqua/node.hpp"
#include "identity/key_store.hpp"
#include "support/eventually.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;
using namespace std::chrono_literals;

namespace {

// Replies to "echo" with the body, to "sleep" after sleeping body ms, fails "fail".
class test_agent final : public agent {
 public:
  result<agent_payload> on_request(agent_context&, const agent_message& m) override {
    last_sender = m.sender;
    if (m.payload.type == "echo") return agent_payload{"echo.reply", m.payload.body};
    if (m.payload.type == "sleep") {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(m.payload.text())));
      return agent_payload::text("slept", m.payload.text());
    }
    return error{errc::not_found, "no handler for " + m.payload.type};
  }
  peer_id last_sender;
};

struct echo_req {
  static constexpr std::string_view type = "echo";
  std::string text;
  bytes encode() const { return bytes(text.begin(), text.end()); }
  struct reply {
    static constexpr std::string_view type = "echo.reply";
    std::string text;
    static result<reply> decode(bytes_view b) { return reply{std::string(b.begin(), b.end())}; }
  };
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) s.replace(pos, from.size(), to);
}

using test::eventually;

node_config two_agents(const test::temp_dir& tmp) {
  auto cfg = parse_config("node: {name: host}\ncomponents: {}\ntransports: []\n"
                          "agents: [{plugin: test, name: alpha}, {plugin: test, name: beta}]\n",
                          "<test>", tmp.path());
  EXPECT_TRUE(cfg) << cfg.err().what();
  return *cfg;
}

// A demo config from configs/, with its /tmp paths moved into `tmp`.
node_config demo_config(const std::string& file, const test::temp_dir& tmp, const std::string& prefix,
                        bool drop_reviewer = false) {
  auto src = std::filesystem::path(AQUA_SOURCE_DIR) / "configs" / file;
  auto text = slurp(src);
  replace_all(text, prefix, tmp.path().string());
  if (drop_reviewer) {
    replace_all(text, ", reviewer: reviewer}", "}");
    replace_all(text, "require: [news, data, reviewer]", "require: [news, data]");
  }
  replace_all(text, "/memory/aqua-demo", "/memory/aqua-test-" + std::to_string(::getpid()) + "-demo");
  auto cfg = parse_config(text, src.string(), src.parent_path());
  EXPECT_TRUE(cfg) << cfg.err().what();
  EXPECT_TRUE(ensure_private_dir(cfg->data_dir));
  EXPECT_TRUE(write_key_file(cfg->identity.key_file, keypair::generate(), true));
  return *cfg;
}

std::string expected_report() { return slurp(std::filesystem::path(AQUA_SOURCE_DIR) / "tests/data/agent_demo_report.md"); }

} // namespace

TEST(AgentFrame, RoundTripsAndRejectsGarbage) {
  agents::frame f{agents::frame_kind::request, "00ff", "t", "alpha", 123, bytes{0xff, 0x00, 'x'}, {}, {}};
  auto back = agents::decode(*agents::encode(f));
  ASSERT_TRUE(back) << back.err().what();
  EXPECT_EQ(back->body, f.body);  // not UTF-8: travels as hex
  EXPECT_EQ(back->correlation, "00ff");
  EXPECT_EQ(back->deadline_unix_ms, 123);
  EXPECT_EQ(agents::decode(as_bytes("{\"aqua_agent\":1}")).err().code(), errc::bad_frame);
  EXPECT_EQ(agents::decode(as_bytes("{\"aqua_agent\":2,\"kind\":\"tell\"}")).err().code(), errc::unknown_version);
  EXPECT_EQ(agents::decode(as_bytes("nope")).err().code(), errc::bad_frame);
  EXPECT_EQ(agents::decode(as_bytes("{\"aqua_agent\":1,\"kind\":\"request\"}")).err().code(), errc::bad_frame);
}

TEST(AgentHost, RequestReplyWithDeadlineAndTimeout) {
  test::temp_dir tmp("agent");
  auto cfg = two_agents(tmp);
  auto alpha = std::make_shared<test_agent>(), beta = std::make_shared<test_agent>();
  auto host = agent_host::start_with(cfg, {alpha, beta}, {});
  ASSERT_TRUE(host) << host.err().what();
  auto infos = (*host)->agents();
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_FALSE(infos[0].id == infos[1].id);  // each agent has its own identity
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "agents" / "alpha" / "identity.key"));

  auto r = (*host)->request_as("alpha", "beta", agent_payload::text("echo", "hello"), 5s);
  ASSERT_TRUE(r) << r.err().what();
  EXPECT_EQ(r->payload.type, "echo.reply");
  EXPECT_EQ(r->payload.text(), "hello");
  EXPECT_EQ(r->from, infos[1].id);
  EXPECT_EQ(r->transport, "loopback");
  EXPECT_EQ(beta->last_sender, infos[0].id);  // authenticated by the E2EE session

  // The peer's error comes back as its errc, not as a timeout.
  auto failed = (*host)->request_as("alpha", "beta", agent_payload::text("nope", ""), 5s);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.err().code(), errc::not_found);

  // Deadline: the reply comes after 600 ms, the caller gives up at 150 ms.
  auto t0 = std::chrono::steady_clock::now();
  auto slow = (*host)->request_as("alpha", "beta", agent_payload::text("sleep", "600"), 150ms);
  auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.err().code(), errc::timeout);
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 550ms);
  EXPECT_TRUE(eventually([&] { return (*host)->counters().late_replies == 1; }, 5s));  // dropped and counted
  EXPECT_EQ((*host)->counters().timeouts, 1u);

  // Typed requests, and unknown names.
  auto unknown = (*host)->request_as("alpha", "gamma", agent_payload::text("echo", ""), 1s);
  EXPECT_EQ(unknown.err().code(), errc::not_found);
  EXPECT_EQ((*host)->request_as("nobody", "beta", agent_payload::text("echo", ""), 1s).err().code(), errc::not_found);
  (*host)->stop();
  EXPECT_EQ((*host)->request_as("alpha", "beta", agent_payload::text("echo", ""), 1s).err().code(), errc::not_running);
}

TEST(AgentHost, TypedAskAndRestartKeepsIdentity) {
  test::temp_dir tmp("agent");
  auto cfg = two_agents(tmp);
  peer_id first;
  struct asker final : agent {
    result<void> start(agent_context& ctx) override {
      auto r = ask(ctx, "beta", echo_req{"typed"}, 5s);
      got = r ? r->text : r.err().what();
      return ok();
    }
    result<agent_payload> on_request(agent_context&, const agent_message&) override {
      return error{errc::not_found, "-"};
    }
    std::string got;
  };
  for (int round = 0; round < 2; ++round) {
    auto a = std::make_shared<asker>();
    auto host = agent_host::start_with(cfg, {a, std::make_shared<test_agent>()}, {});
    ASSERT_TRUE(host) << host.err().what();
    EXPECT_TRUE(eventually([&] { return !a->got.empty(); }, 10s));
    EXPECT_EQ(a->got, "typed");
    if (round == 0) first = (*host)->agents()[0].id;
    else EXPECT_EQ((*host)->agents()[0].id, first);
  }
  // Its key lost, an agent with a store is refused; no new key is left beside the old store.
  const auto key = cfg.data_dir / "agents" / cfg.agents[0].name / "identity.key";
  ASSERT_TRUE(std::filesystem::remove(key));
  auto host = agent_host::start_with(cfg, {std::make_shared<asker>(), std::make_shared<test_agent>()}, {});
  ASSERT_FALSE(host);
  EXPECT_EQ(host.err().code(), errc::no_identity) << host.err().what();
  EXPECT_NE(host.err().message().find("has a store but no identity key"), std::string::npos) << host.err().what();
  EXPECT_FALSE(std::filesystem::exists(key));
}

TEST(AgentSettings, IntegerSettingsAreCheckedAndNameTheAgentAndKey) {
  test::temp_dir tmp("agent");
  auto cfg = parse_config("node: {name: host}\ncomponents: {}\ntransports: []\n"
                          "agents: [{plugin: test, name: alpha, settings: {good: 42, word: soon, big: 99999999999999999999, "
                          "neg: -3}}]\n",
                          "<test>", tmp.path());
  ASSERT_TRUE(cfg) << cfg.err().what();
  struct reader final : agent {
    result<void> start(agent_context& ctx) override {
      for (auto key : {"good", "missing", "word", "big", "neg"}) {
        auto v = int_setting(ctx, key, 7, 0, 1000);
        got.push_back(v ? std::to_string(*v) : v.err().what());
      }
      done = true;
      return ok();
    }
    result<agent_payload> on_request(agent_context&, const agent_message&) override { return error{errc::not_found, "-"}; }
    std::vector<std::string> got;
    std::atomic<bool> done{false};
  };
  auto a = std::make_shared<reader>();
  auto host = agent_host::start_with(*cfg, {a}, {});
  ASSERT_TRUE(host) << host.err().what();
  ASSERT_TRUE(eventually([&] { return a->done.load(); }, 10s));
  ASSERT_EQ(a->got.size(), 5u);
  EXPECT_EQ(a->got[0], "42");
  EXPECT_EQ(a->got[1], "7");
  EXPECT_EQ(a->got[2], "config_bad_value: agent alpha: setting 'word' must be an integer from 0 to 1000, got 'soon'");
  EXPECT_NE(a->got[3].find("setting 'big'"), std::string::npos) << a->got[3];
  EXPECT_NE(a->got[4].find("got '-3'"), std::string::npos) << a->got[4];
}

TEST(AgentDirectory, ScanSkipsFifosGiantsAndGarbageAndKeepsValidCards) {
  test::temp_dir tmp("agent-dir");
  auto cfg = parse_config("node: {name: dirnode}\ncomponents: {}\ntransports: []\n", "<test>", tmp.path() / "n");
  ASSERT_TRUE(cfg) << cfg.err().what();
  std::filesystem::create_directories(cfg->data_dir);
  ASSERT_TRUE(write_key_file(cfg->data_dir / "identity.key", keypair::generate(), true));
  auto n = node::start(*cfg);
  ASSERT_TRUE(n) << n.err().what();
  auto dir = tmp.path() / "directory";
  ASSERT_TRUE(agents::publish_card(dir, "good", (*n)->card()));
  ASSERT_EQ(::mkfifo((dir / "fifo.card").c_str(), 0600), 0);  // opening it would block the scan
  {
    std::ofstream giant(dir / "giant.card");
    giant << (*n)->card() << std::string(2u << 20, 'x');
    std::ofstream garbage(dir / "garbage.card");
    garbage << "aqua-card-v1:not-a-card\n";
  }
  auto found = agents::scan_directory(dir);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].name, "good");
  EXPECT_EQ(found[0].verified.id(), (*n)->id());
}

TEST(AgentDirectory, OnlyThisUserMayWriteIt) {
  test::temp_dir tmp("agent-dir");
  auto dir = tmp.path() / "directory";
  ASSERT_TRUE(agents::prepare_directory(dir));  // created, 0755
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  auto open = agents::prepare_directory(dir);
  ASSERT_FALSE(open);
  EXPECT_EQ(open.err().code(), errc::config_bad_value);
  EXPECT_NE(open.err().message().find("writable by group or others (mode 0777)"), std::string::npos) << open.err().message();
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  if (::geteuid() == 0) {  // another user's directory (root can hand it over)
    ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
    auto theirs = agents::prepare_directory(dir);
    ASSERT_FALSE(theirs);
    EXPECT_NE(theirs.err().message().find("belongs to uid 65534"), std::string::npos) << theirs.err().message();
    ASSERT_EQ(::chown(dir.c_str(), 0, 0), 0);
  }
  EXPECT_TRUE(agents::prepare_directory(dir));
}

TEST(AgentDirectory, OtherFilesDoNotHideCards) {
  test::temp_dir tmp("agent-dir");
  auto cfg = parse_config("node: {name: dirnode}\ncomponents: {}\ntransports: []\n", "<test>", tmp.path() / "n");
  ASSERT_TRUE(cfg) << cfg.err().what();
  std::filesystem::create_directories(cfg->data_dir);
  ASSERT_TRUE(write_key_file(cfg->data_dir / "identity.key", keypair::generate(), true));
  auto n = node::start(*cfg);
  ASSERT_TRUE(n) << n.err().what();
  auto dir = tmp.path() / "directory";
  std::filesystem::create_directories(dir);
  for (std::size_t i = 0; i < agents::max_directory_cards + 100; ++i) std::ofstream(dir / ("junk" + std::to_string(i)));
  ASSERT_TRUE(agents::publish_card(dir, "good", (*n)->card()));
  auto found = agents::scan_directory(dir);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].name, "good");
}

// A card that replaces another under the same name but names another identity is refused: the name stays with the
// identity it was first seen with (whoever can write the directory could otherwise take over an agent's requests).
TEST(AgentDirectory, ANameKeepsTheIdentityItWasFirstSeenWith) {
  test::temp_dir tmp("agent-dir");
  auto peer = [&](const std::string& name) {
    auto tag = "/memory/pin-" + std::to_string(::getpid()) + "-" + name;
    auto cfg = parse_config("node: {name: " + name + "}\ncomponents: {}\ntransports: [{plugin: loopback, listen: [" + tag +
                              "]}]\n", "<test>", tmp.path() / name);
    EXPECT_TRUE(cfg) << cfg.err().what();
    std::filesystem::create_directories(cfg->data_dir);
    EXPECT_TRUE(write_key_file(cfg->data_dir / "identity.key", keypair::generate(), true));
    auto n = node::start(*cfg);
    EXPECT_TRUE(n) << n.err().what();
    return std::move(*n);
  };
  auto real = peer("real"), impostor = peer("impostor");
  auto dir = tmp.path() / "directory";
  ASSERT_TRUE(agents::publish_card(dir, "news", real->card()));
  auto cfg = parse_config("node: {name: host}\ncomponents: {}\ntransports: []\nagents: [{plugin: test, name: alpha}]\n"
                          "agent_directory: {path: " + dir.string() + "}\n", "<test>", tmp.path() / "host");
  ASSERT_TRUE(cfg) << cfg.err().what();
  auto host = agent_host::start_with(*cfg, {std::make_shared<test_agent>()}, {});
  ASSERT_TRUE(host) << host.err().what();
  auto alpha = (*host)->agents()[0].id;
  auto ask_news = [&] { (void) (*host)->request_as("alpha", "news", agent_payload::text("echo", "x"), 300ms); };
  ask_news();  // "news" is `real` (neither answers: it is enough to see who gets the request)
  auto got = real->receive(5s);
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_EQ(got->sender, alpha);
  ASSERT_TRUE(agents::publish_card(dir, "news", impostor->card()));  // the file is replaced
  std::this_thread::sleep_for(2500ms);                                // two rescans
  ask_news();
  auto again = real->receive(5s);
  ASSERT_TRUE(again) << again.err().what();
  EXPECT_EQ(again->sender, alpha);
  EXPECT_FALSE(impostor->receive(500ms));
}

TEST(AgentPlugins, MissingAndWrongAbiAreRefused) {
  agent_config wrong{"wrong_abi", "w", {}, {}};
  auto r = load_agent_plugin({test::bad_plugin_dir()}, wrong);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::plugin_abi_mismatch);
  EXPECT_NE(r.err().message().find("agent ABI 999"), std::string::npos) << r.err().message();
  agent_config throwing{"throwing", "t", {}, {}};  // its own exception type: an error, not a crash
  auto th = load_agent_plugin({test::bad_plugin_dir()}, throwing);
  ASSERT_FALSE(th);
  EXPECT_EQ(th.err().code(), errc::plugin_load_failed);
  EXPECT_NE(th.err().message().find("the factory threw: model file missing"), std::string::npos) << th.err().message();
  agent_config missing{"no_such_agent", "m", {}, {}};
  auto m = load_agent_plugin({test::bad_plugin_dir()}, missing);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.err().code(), errc::plugin_not_found);
  EXPECT_NE(m.err().message().find("libaqua_agent_no_such_agent.so"), std::string::npos);
  // A real agent plugin loads.
  agent_config data{"data", "d", {}, {}};
  auto ok = load_agent_plugin({test::plugin_build_dir()}, data);
  EXPECT_TRUE(ok) << ok.err().what();

  test::temp_dir tmp("agent");
  auto cfg = parse_config("node: {name: h, plugin_path: [" + test::bad_plugin_dir().string() + "]}\ncomponents: {}\n"
                          "transports: []\nagents: [{plugin: data}, {plugin: wrong_abi}]\n", "<test>", tmp.path());
  ASSERT_TRUE(cfg) << cfg.err().what();
  auto host = agent_host::start(*cfg, {});
  ASSERT_FALSE(host);
  EXPECT_EQ(host.err().code(), errc::plugin_abi_mismatch);
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "agents"));  // nothing started
}

TEST(AgentConfig, ADaemonWithoutLoopbackGetsADialOnlyOneThatCarriesItsLargestFrames) {
  auto cfg = parse_config("components: {crypto: {max_frame_bytes: 4194304}}\ntransports:\n  - plugin: zmq\n"
                          "agents: [{plugin: news}]\n", "f.yaml", "/tmp");
  ASSERT_TRUE(cfg) << cfg.err().what();
  ASSERT_TRUE(agents::add_daemon_loopback(*cfg));
  ASSERT_EQ(cfg->transports.size(), 2u);
  const auto& t = cfg->transports[1];
  EXPECT_EQ(t.plugin, "loopback");
  EXPECT_TRUE(t.listen.empty());  // dial-only: the daemon's card does not change
  EXPECT_EQ(t.settings.at("max_frame_bytes"), std::to_string((4u << 20) + (64u << 10)));
  EXPECT_EQ(cfg->routing.transports.back(), t.name);
  EXPECT_FALSE(agents::add_daemon_loopback(*cfg));  // it has one now
}

TEST(AgentConfig, ErrorsNameTheKey) {
  auto bad = parse_config("components: {}\ntransports: []\nagents:\n  - {plugin: news, name: Bad Name}\n", "f.yaml", "/tmp");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.err().code(), errc::config_bad_value);
  EXPECT_NE(bad.err().message().find("f.yaml:4:"), std::string::npos) << bad.err().message();
  EXPECT_NE(bad.err().message().find("agents[0].name"), std::string::npos) << bad.err().message();
  for (const char* name : {"'-'", "'--wait'", "_x"}) {  // the CLI could not name them ("-" is stdin)
    auto odd = parse_config(std::string("components: {}\ntransports: []\nagents:\n  - {plugin: news, name: ") + name + "}\n",
                            "f.yaml", "/tmp");
    ASSERT_FALSE(odd) << name;
    EXPECT_NE(odd.err().message().find("starting with a letter or digit"), std::string::npos) << odd.err().message();
  }
  auto dup = parse_config("components: {}\ntransports: []\nagents: [{plugin: news}, {plugin: news}]\n", "f.yaml", "/tmp");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.err().message().find("used twice"), std::string::npos);
  auto key = parse_config("components: {}\ntransports: []\nagents: [{plugin: news, colour: red}]\n", "f.yaml", "/tmp");
  ASSERT_FALSE(key);
  EXPECT_EQ(key.err().code(), errc::config_unknown_key);
}

TEST(AgentDemo, WorkflowInOneHostWritesTheExpectedReport) {
  test::temp_dir tmp("agent-demo");
  auto cfg = demo_config("demo-local.yaml", tmp, "/tmp/aqua-demo-local");
  auto daemon = node::start(cfg);
  ASSERT_TRUE(daemon) << daemon.err().what();
  std::vector<agent_event> events;
  std::mutex mu;
  agent_host::options o;
  o.daemon = daemon->get();
  o.on_event = [&](const agent_event& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  };
  auto host = agent_host::start(cfg, o);
  ASSERT_TRUE(host) << host.err().what();
  auto report = tmp.path() / "report.md";
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(report); }, 30s));
  EXPECT_EQ(slurp(report), expected_report());
  // And once more on request, from the daemon's identity.
  auto again = (*host)->request_as("you", "orchestrator", agent_payload::text("workflow.run", "electric vehicle prices"), 30s);
  ASSERT_TRUE(again) << again.err().what();
  EXPECT_EQ(again->payload.type, "workflow.done");
  EXPECT_EQ(slurp(report), expected_report());
  std::lock_guard lock(mu);
  int replies = 0;
  for (auto& e : events)
    if (e.kind == "reply") {
      ++replies;
      EXPECT_EQ(e.transport, "loopback");
    }
  EXPECT_EQ(replies, 9);  // 4 per workflow run (research, news, data, writer), + the daemon's own request
}

TEST(AgentDemo, SplitAcrossTwoHostsOverZmqWritesTheSameReport) {
  test::temp_dir tmp("agent-split");
  auto cfg_b = demo_config("demo-split-b.yaml", tmp, "/tmp/aqua-demo-split");
  auto cfg_a = demo_config("demo-split-a.yaml", tmp, "/tmp/aqua-demo-split", true);
  auto node_b = node::start(cfg_b);
  ASSERT_TRUE(node_b) << node_b.err().what();
  std::vector<std::string> transports;
  std::mutex mu;
  auto host_b = agent_host::start(cfg_b, {node_b->get(), {}, {}});
  ASSERT_TRUE(host_b) << host_b.err().what();
  auto node_a = node::start(cfg_a);
  ASSERT_TRUE(node_a) << node_a.err().what();
  agent_host::options o;
  o.daemon = node_a->get();
  o.on_event = [&](const agent_event& e) {
    std::lock_guard lock(mu);
    if (e.kind == "reply") transports.push_back(e.to + "<-" + e.from + ":" + e.transport);
  };
  auto host_a = agent_host::start(cfg_a, o);
  ASSERT_TRUE(host_a) << host_a.err().what();
  auto report = tmp.path() / "report.md";
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(report); }, 30s));
  EXPECT_EQ(slurp(report), expected_report());
  auto has = [&](const std::string& s) { return std::find(transports.begin(), transports.end(), s) != transports.end(); };
  // The writer writes the report before its reply reaches the orchestrator: wait for that event too.
  (void) eventually([&] {
    std::lock_guard lock(mu);
    return has("orchestrator<-writer:loopback");
  }, 30s);
  std::lock_guard lock(mu);
  EXPECT_TRUE(has("research<-news:zmq"));
  EXPECT_TRUE(has("research<-data:zmq"));
  EXPECT_TRUE(has("orchestrator<-writer:loopback"));
  EXPECT_EQ((*host_b)->counters().requests_served, 2u);
}
