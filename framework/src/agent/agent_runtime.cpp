// One hosted agent: a detached CAF actor runs its handlers one at a time on
// its own thread (so a handler may block in request()), a pump thread hands
// it messages from the agent's durable node inbox, a few at a time, and
// passes replies to the waiting request. A message is deleted (or, with
// mailbox.agent_keep_handled, marked read) only once its handler has finished
// (and its reply is queued): after a crash, what was not handled yet is
// handed out again. The pump starts past the messages already done
// (node::read_through), so its start does not grow with the inbox's history.

#include "agent/agent_runtime.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "aqua/env.hpp"
#include "core/terminal_text.hpp"

namespace aqua::agents {
namespace {

using in_atom = caf::atom_constant<caf::atom("agent_in")>;
using go_atom = caf::atom_constant<caf::atom("agent_go")>;

struct work {
  inbound_message msg;
  frame f;
};
using work_ptr = std::shared_ptr<const work>;

} // namespace
} // namespace aqua::agents

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(aqua::agents::work_ptr)

namespace aqua::agents {
namespace {

// Requests and tells the actor holds at most (in its CAF mailbox or running):
// the rest wait unread in the node's durable inbox, so neither memory nor what
// a crash can lose grows with the backlog.
constexpr std::uint64_t window = 4;
constexpr std::size_t page = 8;  // messages one watch() loads at most
constexpr std::size_t max_error_text = 1000;  // of an error frame sent instead of a reply that could not be

std::atomic<std::uint64_t> records_loaded{0};  // pump_records_loaded()

caf::behavior agent_actor(caf::event_based_actor* self, runtime* rt) {
  // The handlers catch everything themselves; should anything still escape, say whose actor it ended.
  self->set_exception_handler([rt](caf::scheduled_actor*, std::exception_ptr&) -> caf::error {
    spdlog::critical("agent {}: its actor ended on an unhandled exception", rt->name());
    return caf::exit_reason::unhandled_exception;
  });
  return {
    [rt](in_atom, const work_ptr& w) {
      // Once the host stops, work still queued here is not started: it stays unread for the next start.
      if (rt->running() && rt->handle(w->msg, w->f)) rt->finish(w->msg.sequence);
      else rt->leave(w->msg.sequence);
    },
    [rt](go_atom) { rt->run_start(); },
  };
}

std::int64_t now_ms() { return system_env()->now_unix_ms(); }

// What an exception in agent code says: std::exception's what(), or that it was something else.
std::string exception_text() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (const char* s) {
    return std::string("a non-standard exception (const char*: ") + (s ? s : "null") + ")";
  } catch (...) {
    return "a non-standard exception";
  }
}

} // namespace

std::uint64_t pump_records_loaded() { return records_loaded.load(); }

struct runtime::actor_handle {
  caf::actor self;
  caf::actor ending;  // told to exit by shutdown(), awaited by await_actor()
};

// --- runtime -----------------------------------------------------------------

runtime::runtime(host_shared& shared, agent_config cfg, std::filesystem::path config_dir, std::shared_ptr<agent> a,
                 std::unique_ptr<node> n)
    : shared_(shared),
      cfg_(std::move(cfg)),
      config_dir_(std::move(config_dir)),
      data_dir_(n->config().data_dir),
      agent_(std::move(a)),
      node_(std::move(n)),
      requester_(shared, *node_, cfg_.name) {
  keep_handled_ = node_->config().mailbox.agent_keep_handled;
}

runtime::~runtime() {
  shutdown();
  stop_node();
}

void runtime::launch(void* sys) {
  auto& system = *static_cast<caf::actor_system*>(sys);
  actor_ = std::make_unique<actor_handle>();
  actor_->self = system.spawn<caf::detached>(agent_actor, this);
  caf::anon_send(actor_->self, go_atom::value);  // start() runs before any handler
  running_ = true;
  pump_ = std::thread([this] { pump(); });
}

void runtime::shutdown() {
  running_ = false;
  requester_.cancel_all();
  if (pump_.joinable()) pump_.join();
  if (actor_ && actor_->self) {
    caf::anon_send_exit(actor_->self, caf::exit_reason::user_shutdown);
    actor_->ending = std::move(actor_->self);
    actor_->self = nullptr;
  }
}

void runtime::await_actor() {
  if (!actor_ || !actor_->ending) return;
  caf::scoped_actor waiter{actor_->ending.home_system()};
  waiter->wait_for(actor_->ending);  // a handler that is running finishes first
  actor_->ending = nullptr;
}

void runtime::stop_node() {
  if (node_) node_->stop();
}

bool runtime::accept_sender(const inbound_message& m) {
  if (!m.quarantined) return true;  // a contact: co-hosted agent, daemon, directory agent or added by the user
  if (shared_.refresh) shared_.refresh();  // maybe an agent of another daemon that published its card just now
  std::lock_guard lock(shared_.names_mutex);
  return shared_.by_peer.count(m.sender.str()) > 0;
}

void runtime::remove(std::uint64_t sequence) {
  // The mailbox keeps the highest sequence number given out (meta/inbox_seq) and the message's dedup record:
  // no later message gets this number, and a late copy of this one is still a duplicate.
  if (auto r = node_->remove(sequence); !r && r.err().code() != errc::not_found)
    spdlog::warn("agent {}: cannot delete message {}: {}", cfg_.name, sequence, r.err().what());
}

void runtime::done_with(std::uint64_t sequence, bool already_read) {
  if (keep_handled_ == 0) {
    remove(sequence);
    return;
  }
  if (!already_read)
    if (auto r = node_->read(sequence); !r)
      spdlog::warn("agent {}: cannot mark message {} read: {}", cfg_.name, sequence, r.err().what());
  std::optional<std::uint64_t> drop;
  {
    std::lock_guard lock(kept_mutex_);
    newest_done_ = std::max(newest_done_, sequence);
    // A read one the pump meets again (a reply taken while the window was full) is kept once.
    if (!already_read || std::find(kept_.begin(), kept_.end(), sequence) == kept_.end()) kept_.push_back(sequence);
    if (kept_.size() > keep_handled_) {
      drop = kept_.front();
      kept_.pop_front();
    }
  }
  if (drop) remove(*drop);
}

void runtime::finish(std::uint64_t sequence) {
  done_with(sequence);
  --in_flight_;
}

void runtime::leave(std::uint64_t sequence) {
  spdlog::info("agent {}: message {} left unread by the stop; it is handled at the next start", cfg_.name, sequence);
  --in_flight_;
}

bool runtime::prune_earlier() {
  auto limit = earlier_through_;  // every message up to here was read at start
  if (keep_handled_ > 0) {        // the newest keep_handled_ of them stay until newer ones are handled
    std::lock_guard lock(kept_mutex_);
    limit = std::min(limit, newest_done_ > keep_handled_ ? newest_done_ - keep_handled_ : 0);
  }
  if (pruned_through_ >= limit) return false;
  auto batch = node_->watch(pruned_through_, page, std::chrono::milliseconds(0));
  if (!batch) return false;
  records_loaded += batch->size();
  for (auto& m : *batch) {
    if (m.sequence > limit) break;
    if (m.read) remove(m.sequence);
    pruned_through_ = m.sequence;
  }
  if (batch->empty() || batch->back().sequence > limit) pruned_through_ = limit;
  return pruned_through_ < limit;
}

// Messages are watched, not received: one stays unread until its handler has
// finished (finish()), and at most `window` are with the actor. Replies are
// taken at once even then, so a handler waiting in request() gets its reply.
void runtime::pump() {
  // Everything up to the oldest unread message is done: start there, not at the inbox's first message.
  std::uint64_t next = 0;  // every message up to here is done or with the actor
  if (auto through = node_->read_through()) next = *through;
  else spdlog::warn("agent {}: cannot find its first unread message ({}); reading the inbox from its start", cfg_.name,
                    through.err().what());
  earlier_through_ = next;
  {
    std::lock_guard lock(kept_mutex_);
    newest_done_ = std::max(newest_done_, next);
  }
  std::uint64_t scanned = next;  // every reply up to here is taken (>= next)
  bool pruning = true;           // prune_earlier() has more to do
  while (running_) {  // each watch waits at most 200 ms
    const bool full = in_flight_ >= window;
    auto wait = std::chrono::milliseconds(full || pruning ? 20 : 200);
    auto batch = node_->watch(full ? scanned : next, page, wait);
    if (!batch) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    records_loaded += batch->size();
    for (auto& m : *batch) {
      if (!running_) break;
      scanned = std::max(scanned, m.sequence);
      auto done = [&] {
        if (!full) next = m.sequence;
      };
      if (m.read) {  // handled before a restart, or a reply taken while the window was full
        done_with(m.sequence, true);
        done();
        continue;
      }
      frame f;
      if (m.topic != agent_topic) {
        // A plain message (e.g. `aqua send`): a tell whose type is the topic.
        f.kind = frame_kind::tell;
        f.type = m.topic.empty() ? "text" : m.topic;
        f.body = m.payload;
      } else {
        auto decoded = decode(m.payload);
        if (!decoded) {
          ++shared_.rejected;
          spdlog::warn("agent {}: dropped a message from {}: {}", cfg_.name, m.sender.str(),
                       terminal_text(decoded.err().what()));
          done_with(m.sequence);
          done();
          continue;
        }
        f = std::move(*decoded);
      }
      if (f.kind == frame_kind::reply || f.kind == frame_kind::error) {
        if (!requester_.complete(m, f)) {
          ++shared_.late;
          spdlog::info("agent {}: dropped a late or unexpected {} from {} ({})", cfg_.name, to_string(f.kind),
                       shared_.name_of(m.sender), terminal_text(f.correlation));
        }
        done_with(m.sequence);
        done();
        continue;
      }
      if (full) continue;                  // its turn comes when the window has room
      if (in_flight_ >= window) break;     // this one and the rest of the batch: next round
      next = m.sequence;
      if (!accept_sender(m)) {
        ++shared_.rejected;
        spdlog::warn("agent {}: refused a {} from unknown sender {}", cfg_.name, to_string(f.kind), m.sender.str());
        if (f.kind == frame_kind::request)
          if (auto r = send_frame(m.sender,
                                  frame{frame_kind::error, f.correlation, f.type, cfg_.name, 0, {}, "unknown_sender",
                                        "agent " + cfg_.name + " does not know you"},
                                  1000);
              !r)
            spdlog::warn("agent {}: cannot refuse the request of {}: {}", cfg_.name, m.sender.str(), r.err().what());
        done_with(m.sequence);
        continue;
      }
      ++in_flight_;
      caf::anon_send(actor_->self, in_atom::value, std::make_shared<const work>(work{m, std::move(f)}));
    }
    if (running_) pruning = prune_earlier();
  }
}

bool runtime::handle(const inbound_message& m, const frame& f) {
  agent_message am{m.sender, f.from, agent_payload{f.type, f.body}, m.transport, m.trust, f.correlation,
                   f.deadline_unix_ms};
  const auto cut_before = requester_.cut_short();
  const auto cut = [&] { return requester_.cut_short() != cut_before; };  // the stop cut a request() of it short
  if (f.kind == frame_kind::tell) {
    shared_.emit({0, 0, "tell", shared_.name_of(m.sender), cfg_.name, m.sender, node_->id(), f.type, {}, m.transport,
                  f.body.size(), 0, ""});
    try {
      agent_->on_message(*this, am);
    } catch (...) {
      spdlog::error("agent {}: on_message ('{}' from {}) threw: {}", cfg_.name, terminal_text(f.type), shared_.name_of(m.sender),
                    exception_text());
    }
    return !cut();
  }
  auto now = now_ms();
  if (f.deadline_unix_ms && now > f.deadline_unix_ms) {
    ++shared_.rejected;
    spdlog::info("agent {}: request '{}' from {} arrived after its deadline; not run", cfg_.name, terminal_text(f.type),
                 shared_.name_of(m.sender));
    return true;
  }
  result<agent_payload> r = error{errc::invalid_argument, "not run"};
  try {
    r = agent_->on_request(*this, am);
  } catch (...) {
    auto what = exception_text();
    spdlog::error("agent {}: on_request ('{}' from {}) threw: {}", cfg_.name, terminal_text(f.type), shared_.name_of(m.sender),
                  terminal_text(what));
    r = error{errc::invalid_argument, "agent threw: " + what};
  }
  if (cut()) return false;  // its result may be the stop's not_running: no answer, it runs again after the restart
  ++shared_.served;
  reply(m, f, std::move(r));
  return true;
}

void runtime::reply(const inbound_message& m, const frame& f, result<agent_payload> r) {
  auto error_frame = [&](errc code, std::string text) {
    if (text.size() > max_error_text) text = text.substr(0, max_error_text) + "...";
    return frame{frame_kind::error, f.correlation, f.type, cfg_.name, 0, {}, std::string(to_string(code)), std::move(text)};
  };
  frame out = r ? frame{frame_kind::reply, f.correlation, r->type, cfg_.name, 0, std::move(r->body), {}, {}}
                : error_frame(r.err().code(), r.err().message());
  auto left = f.deadline_unix_ms ? f.deadline_unix_ms - now_ms() : 0;
  auto ttl = static_cast<std::uint64_t>(std::max<std::int64_t>(left, 1000));
  auto sent = send_frame(m.sender, out, ttl);
  if (!sent && sent.err().code() != errc::not_running) {
    // Too large, or a type no frame can carry: the requester gets why, not a timeout.
    spdlog::warn("agent {}: cannot send its {} to '{}' to {}: {}; sending an error instead", cfg_.name,
                 to_string(out.kind), terminal_text(f.type), shared_.name_of(m.sender), sent.err().what());
    sent = send_frame(m.sender,
                      error_frame(sent.err().code(), "agent " + cfg_.name + " could not send its " +
                                                         std::string(to_string(out.kind)) + ": " + sent.err().message()),
                      ttl);
  }
  if (!sent)
    spdlog::warn("agent {}: cannot answer '{}' from {}: {}", cfg_.name, terminal_text(f.type), shared_.name_of(m.sender),
                 sent.err().what());
}

void runtime::run_start() {
  auto r = [&]() -> result<void> {
    try {
      return agent_->start(*this);
    } catch (...) {  // as if start() had returned the error: logged, noted, the agent keeps serving
      return error{errc::invalid_argument, "start threw: " + exception_text()};
    }
  }();
  if (!r) {
    spdlog::error("agent {}: start failed: {}", cfg_.name, r.err().what());
    note("start failed: " + r.err().what());
  }
}

} // namespace aqua::agents
