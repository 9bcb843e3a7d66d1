#pragma once
// Private: one hosted agent (its node, its CAF actor, its inbox pump and its
// table of requests in flight) and the state its host shares with it.
// No CAF types here: the actor lives in agent_runtime.cpp.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/agent_frame.hpp"
#include "aqua/agent.hpp"
#include "aqua/node.hpp"

namespace aqua::agents {

// Names, trace and counters shared by every agent of one host.
struct host_shared {
  std::mutex names_mutex;
  std::map<std::string, peer_id> by_name;      // co-hosted agents, the daemon node, directory agents
  std::map<std::string, std::string> by_peer;  // peer ID text -> name
  std::function<void()> refresh;                // rescan the agent directory (may be empty)
  std::function<void(const agent_event&)> on_event;
  std::mutex event_mutex;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  std::atomic<std::uint64_t> served{0}, replies{0}, late{0}, timeouts{0}, rejected{0};

  std::optional<peer_id> lookup(const std::string& name);
  std::string name_of(const peer_id& id);  // the name, or the peer ID text
  void add_name(const std::string& name, const peer_id& id);
  void emit(agent_event e);
};

// The sequence number of the newest message in `n`'s inbox (0 if none),
// without loading every message: O(log n) probes of one message each.
std::uint64_t last_sequence(node& n);

// Inbox records the agents' pumps of this process have loaded (their watch()
// results, handled or skipped): their work, for tests and diagnostics.
std::uint64_t pump_records_loaded();

// The longest deadline a request waits (ten years): a longer one, up to
// milliseconds::max(), is saturated to it instead of overflowing a clock.
inline constexpr std::chrono::milliseconds longest_deadline = std::chrono::hours(24 * 3653);
std::chrono::milliseconds saturated_deadline(std::chrono::milliseconds deadline);

// A request in flight, waiting for its reply frame.
struct pending_call {
  peer_id to;
  std::string to_name, type;
  std::chrono::steady_clock::time_point sent;
  std::optional<result<agent_reply>> outcome;
};

// Sends requests and matches their replies; shared by an agent and by a
// bare node acting as a requester (the daemon in `aqua demo`).
class requester {
 public:
  requester(host_shared& shared, node& n, std::string name) : shared_(shared), node_(n), name_(std::move(name)) {}
  // Sends every call, then waits for all of them until `deadline`.
  std::vector<result<agent_reply>> call(const std::vector<agent_call>& calls, std::chrono::milliseconds deadline);
  // A reply or error frame arrived: true if it answered a call in flight.
  bool complete(const inbound_message& m, const frame& f);
  void cancel_all();  // every waiting call gets not_running
  // How many calls the stop has answered with not_running so far: a handler that saw one did not finish its work.
  std::uint64_t cut_short() const { return cut_short_; }

 private:
  host_shared& shared_;
  node& node_;
  std::string name_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<pending_call>> pending_;  // correlation -> call
  bool cancelled_ = false;
  std::atomic<std::uint64_t> cut_short_{0};
};

class runtime final : public agent_context {
 public:
  runtime(host_shared& shared, agent_config cfg, std::filesystem::path config_dir, std::shared_ptr<agent> a,
          std::unique_ptr<node> n);
  ~runtime() override;

  // Spawns the agent's actor in `sys` (an opaque caf::actor_system*) and
  // starts the inbox pump; the actor then runs agent::start().
  void launch(void* sys);
  void shutdown();  // stops the pump, cancels waiting calls, tells the actor to end
  void await_actor();  // until the actor has ended (after shutdown)
  void stop_node();
  node& get_node() { return *node_; }
  agent& get_agent() { return *agent_; }
  requester& get_requester() { return requester_; }
  bool accept_sender(const inbound_message& m);
  // Run on the actor's thread. handle() catches whatever agent code throws;
  // finish() then lets the message go (after the reply is queued): done_with().
  // handle() returns false when the stop cut the handler short (a request()
  // it made was answered not_running): nothing is answered, and leave() keeps
  // the message unread, so the next start runs it again, as after a crash.
  bool handle(const inbound_message& m, const frame& f);
  void finish(std::uint64_t sequence);
  void leave(std::uint64_t sequence);
  bool running() const { return running_; }
  void run_start();

  // agent_context
  const std::string& name() const override { return cfg_.name; }
  const peer_id& id() const override { return node_->id(); }
  const agent_config& config() const override { return cfg_; }
  const std::filesystem::path& data_dir() const override { return data_dir_; }
  std::string setting(const std::string& key, const std::string& fallback) const override;
  std::filesystem::path path_setting(const std::string& key, const std::string& fallback) const override;
  result<peer_id> resolve(const std::string& who) override;
  result<void> tell(const std::string& to, agent_payload payload) override;
  result<agent_reply> request(const std::string& to, agent_payload payload, std::chrono::milliseconds deadline) override;
  std::vector<result<agent_reply>> request_all(const std::vector<agent_call>& calls,
                                               std::chrono::milliseconds deadline) override;
  void note(const std::string& text) override;

 private:
  void pump();
  // A message handled (or dropped, or a reply taken): deleted from the inbox, or with
  // mailbox.agent_keep_handled > 0 marked read and deleted once that many newer are handled.
  // `already_read`: one the pump met read (handled before a restart, or a reply it took while its window was full).
  void done_with(std::uint64_t sequence, bool already_read = false);
  void remove(std::uint64_t sequence);
  // Deletes up to one page of what the inbox held before this start beyond what
  // agent_keep_handled keeps (handled in an earlier run, or by an older aqua that kept all).
  // True while there is more to delete.
  bool prune_earlier();
  result<void> send_frame(const peer_id& to, const frame& f, std::uint64_t ttl_ms);
  // Sends the reply, or an error frame saying why it cannot be sent.
  void reply(const inbound_message& m, const frame& f, result<agent_payload> r);

  host_shared& shared_;
  agent_config cfg_;
  std::filesystem::path config_dir_, data_dir_;
  std::shared_ptr<agent> agent_;
  std::unique_ptr<node> node_;
  requester requester_;
  std::atomic<bool> running_{false};
  std::atomic<std::uint64_t> in_flight_{0};  // messages with the actor, not finished yet
  std::uint64_t keep_handled_ = 0;           // mailbox.agent_keep_handled
  std::mutex kept_mutex_;
  std::deque<std::uint64_t> kept_;           // handled in this run and kept (keep_handled_ > 0), oldest first
  std::uint64_t newest_done_ = 0;            // the highest sequence done with (guarded by kept_mutex_)
  std::uint64_t earlier_through_ = 0;        // every message up to here was read at start (the pump's start)
  std::uint64_t pruned_through_ = 0;         // pump thread: earlier messages up to here are pruned
  std::thread pump_;
  struct actor_handle;
  std::unique_ptr<actor_handle> actor_;
};

} // namespace aqua::agents
