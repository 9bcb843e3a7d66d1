// An agent's own inbox over time: its start does not read the handled
// history, and handled messages do not stay forever (mailbox.agent_keep_handled)
// while no sequence number is given out twice. Real nodes, real LevelDB.
#include <gtest/gtest.h>

#include <mutex>
#include <utility>
#include <vector>

#include "agent/agent_runtime.hpp"
#include "aqua/agent.hpp"
#include "delivery/records.hpp"
#include "framework/agent/test_agents.hpp"
#include "store/store.hpp"
#include "support/eventually.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;
using namespace std::chrono_literals;
using test::agents_config;
using test::eventually;
using test::recorder;
using test::teller;

namespace {

const std::string two_agents = "{plugin: test, name: alpha}, {plugin: test, name: beta}";

// What an agent's store holds once its host is stopped: each inbox record (sequence, read) and meta/inbox_seq.
struct stored_inbox {
  std::vector<std::pair<std::uint64_t, bool>> records;
  std::uint64_t highest = 0;
};

stored_inbox read_store(const node_config& cfg, const std::string& agent) {
  stored_inbox out;
  auto db = store::db::open(cfg.data_dir / "agents" / agent / store::dir_name, false);
  EXPECT_TRUE(db) << db.err().what();
  if (!db) return out;
  auto r = (*db)->scan("i/", [&](std::string_view, std::string_view v) {
    auto rec = delivery::in_record::decode(as_bytes(v));
    EXPECT_TRUE(rec) << rec.err().what();
    if (rec) out.records.emplace_back(rec->seq, rec->state == delivery::in_state::read);
    return true;
  });
  EXPECT_TRUE(r) << r.err().what();
  auto h = (*db)->get(delivery::inbox_seq_key);
  if (h && *h)
    if (auto v = delivery::decode_inbox_seq(as_bytes(**h))) out.highest = *v;
  return out;
}

// A host where alpha told beta `count` notes, once beta handled them (host null if it did not start or beta
// did not handle them).
struct told {
  std::unique_ptr<agent_host> host;
  std::shared_ptr<recorder> beta;
};

told tell_beta_and_wait(const node_config& cfg, int count) {
  told t{nullptr, std::make_shared<recorder>()};
  auto host = agent_host::start_with(cfg, {std::make_shared<teller>("beta", count), t.beta}, {});
  EXPECT_TRUE(host) << host.err().what();
  if (!host) return t;
  bool handled = eventually([&] {
    std::lock_guard lock(t.beta->mu);
    return t.beta->got.size() >= std::size_t(count);
  }, 180s, 20ms);
  EXPECT_TRUE(handled) << "beta did not handle " << count << " notes";
  if (handled) t.host = std::move(*host);
  return t;
}

// The same, returning once the host is stopped (every handled message let go: finish() runs before the actor ends).
void tell_beta(const node_config& cfg, int count) {
  auto t = tell_beta_and_wait(cfg, count);
  ASSERT_TRUE(t.host);
}

} // namespace

// Thousands of handled messages kept in beta's inbox: the next start finds the one new message without loading
// the history (the pump started at the inbox's first message and paged through all of it, 8 at a time).
TEST(AgentInbox, StartUpLoadsNoneOfTheHandledHistory) {
  test::temp_dir tmp("agent-inbox");
  auto cfg = agents_config(tmp, two_agents, "[]", "{mailbox: {agent_keep_handled: 1000000}}");
  const int history = 5000;
  tell_beta(cfg, history);
  if (HasFatalFailure()) return;
  auto kept = read_store(cfg, "beta");
  ASSERT_EQ(kept.records.size(), std::size_t(history));  // all kept (the bound is above them), all handled
  for (auto& [seq, read] : kept.records) ASSERT_TRUE(read) << seq;

  const auto before = agents::pump_records_loaded();
  auto t = tell_beta_and_wait(cfg, 1);
  ASSERT_TRUE(t.host);
  const auto loaded = agents::pump_records_loaded() - before;
  EXPECT_GE(loaded, 1u);
  EXPECT_LE(loaded, 8u) << "the pumps loaded " << loaded << " inbox records to find 1 new message after " << history
                        << " handled ones";
  std::lock_guard lock(t.beta->mu);
  EXPECT_EQ(t.beta->got, std::vector<std::string>{"m0"});
}

// By default a message is deleted once its handler has finished; meta/inbox_seq keeps its number, so after a
// restart with an empty inbox the next message gets the next number, not 1 again.
TEST(AgentInbox, HandledMessagesAreDeletedAndTheirNumbersNotGivenOutAgain) {
  test::temp_dir tmp("agent-inbox");
  auto cfg = agents_config(tmp, two_agents);
  ASSERT_EQ(cfg.mailbox.agent_keep_handled, 0u);
  tell_beta(cfg, 50);
  if (HasFatalFailure()) return;
  auto after = read_store(cfg, "beta");
  EXPECT_TRUE(after.records.empty()) << after.records.size() << " handled messages still stored";
  EXPECT_EQ(after.highest, 50u);
  tell_beta(cfg, 1);
  if (HasFatalFailure()) return;
  after = read_store(cfg, "beta");
  EXPECT_TRUE(after.records.empty()) << after.records.size() << " handled messages still stored";
  EXPECT_EQ(after.highest, 51u);
}

// agent_keep_handled: 10 keeps the newest ten handled; started again with 0, the ten kept from the earlier run
// are pruned too (as an inbox an older aqua filled would be).
TEST(AgentInbox, KeepHandledKeepsTheNewestAndALowerBoundPrunesTheRest) {
  test::temp_dir tmp("agent-inbox");
  auto keep10 = agents_config(tmp, two_agents, "[]", "{mailbox: {agent_keep_handled: 10}}");
  tell_beta(keep10, 30);
  if (HasFatalFailure()) return;
  auto kept = read_store(keep10, "beta");
  ASSERT_EQ(kept.records.size(), 10u);
  for (std::size_t i = 0; i < kept.records.size(); ++i) {
    EXPECT_EQ(kept.records[i].first, 21 + i);
    EXPECT_TRUE(kept.records[i].second) << kept.records[i].first;
  }

  auto keep0 = agents_config(tmp, two_agents);
  const auto before = agents::pump_records_loaded();
  {
    auto t = tell_beta_and_wait(keep0, 1);
    ASSERT_TRUE(t.host);
    // The ten earlier ones and the new one loaded: the pruning that loaded them ends before the pump thread does.
    ASSERT_TRUE(eventually([&] { return agents::pump_records_loaded() - before >= 11; }, 20s));
  }
  auto after = read_store(keep0, "beta");
  EXPECT_TRUE(after.records.empty()) << after.records.size() << " messages still stored, the first "
                                     << (after.records.empty() ? 0 : after.records.front().first);
  EXPECT_EQ(after.highest, 31u);
}
