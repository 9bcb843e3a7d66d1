// One hosted agent: a detached CAF actor runs its handlers one at a time on
// its own thread (so a handler may block in request()), a pump thread moves
// messages from the agent's node inbox to the actor or, for replies, to the
// waiting request.

#include "agent/agent_runtime.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "aqua/env.hpp"

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

caf::behavior agent_actor(caf::event_based_actor*, runtime* rt) {
  return {
    [rt](in_atom, const work_ptr& w) { rt->handle(w->msg, w->f); },
    [rt](go_atom) { rt->run_start(); },
  };
}

std::int64_t now_ms() { return system_env()->now_unix_ms(); }

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

} // namespace

struct runtime::actor_handle {
  caf::actor self;
};

// --- host_shared -------------------------------------------------------------

std::optional<peer_id> host_shared::lookup(const std::string& name) {
  std::lock_guard lock(names_mutex);
  if (auto it = by_name.find(name); it != by_name.end()) return it->second;
  return std::nullopt;
}

std::string host_shared::name_of(const peer_id& id) {
  std::lock_guard lock(names_mutex);
  auto it = by_peer.find(id.str());
  return it != by_peer.end() ? it->second : id.str();
}

void host_shared::add_name(const std::string& name, const peer_id& id) {
  std::lock_guard lock(names_mutex);
  by_name.insert_or_assign(name, id);
  by_peer.insert_or_assign(id.str(), name);
}

void host_shared::emit(agent_event e) {
  e.unix_ms = now_ms();
  e.elapsed_ms = ms_between(t0, std::chrono::steady_clock::now());
  std::lock_guard lock(event_mutex);
  if (on_event) on_event(e);
}

// --- requester ---------------------------------------------------------------

std::vector<result<agent_reply>> requester::call(const std::vector<agent_call>& calls, std::chrono::milliseconds deadline) {
  auto start = std::chrono::steady_clock::now();
  auto until = start + deadline;
  const auto deadline_ms = std::max<std::int64_t>(deadline.count(), 0);
  std::vector<std::optional<result<agent_reply>>> done(calls.size());
  std::vector<std::shared_ptr<pending_call>> slots(calls.size());
  std::vector<std::string> corrs(calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    auto& c = calls[i];
    std::optional<peer_id> to = shared_.lookup(c.to);
    if (!to)
      if (auto parsed = peer_id::parse(c.to)) to = *parsed;
    if (!to) {
      done[i] = error{errc::not_found, "'" + c.to + "' is neither a known agent nor a peer ID"};
      continue;
    }
    auto pc = std::make_shared<pending_call>(pending_call{*to, shared_.name_of(*to), c.payload.type,
                                                         std::chrono::steady_clock::now(), std::nullopt});
    corrs[i] = new_correlation();
    {
      std::lock_guard lock(mutex_);
      if (cancelled_) {
        done[i] = error{errc::not_running, "agent " + name_ + " is stopping"};
        continue;
      }
      pending_[corrs[i]] = pc;
    }
    frame f{frame_kind::request, corrs[i], c.payload.type, name_, now_ms() + deadline_ms, c.payload.body, {}, {}};
    send_options o;
    o.timeout = std::max(deadline, std::chrono::milliseconds(1000));
    o.ttl_ms = static_cast<std::uint64_t>(std::max<std::int64_t>(deadline_ms, 1000));
    o.topic = agent_topic;
    shared_.emit({0, 0, "request", name_, pc->to_name, node_.id(), *to, c.payload.type, corrs[i], "",
                  c.payload.body.size(), 0, ""});
    auto sent = node_.send(*to, encode(f), o);
    if (!sent) {
      std::lock_guard lock(mutex_);
      pending_.erase(corrs[i]);
      done[i] = error{sent.err().code(), "request '" + c.payload.type + "' to " + pc->to_name + ": " + sent.err().message()};
      continue;
    }
    slots[i] = std::move(pc);
  }
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, until, [&] {
    if (cancelled_) return true;
    for (std::size_t i = 0; i < slots.size(); ++i)
      if (slots[i] && !slots[i]->outcome) return false;
    return true;
  });
  std::vector<result<agent_reply>> out;
  out.reserve(calls.size());
  std::vector<agent_event> timeouts;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (done[i]) {
      out.push_back(std::move(*done[i]));
    } else if (slots[i]->outcome) {
      out.push_back(std::move(*slots[i]->outcome));
    } else {
      pending_.erase(corrs[i]);  // a reply that still comes is dropped and counted as late
      auto& pc = *slots[i];
      if (cancelled_) {
        out.push_back(error{errc::not_running, "agent " + name_ + " is stopping"});
        continue;
      }
      ++shared_.timeouts;
      out.push_back(error{errc::timeout, "no reply from " + pc.to_name + " to '" + pc.type + "' within " +
                                             std::to_string(deadline.count()) + " ms"});
      timeouts.push_back({0, 0, "timeout", name_, pc.to_name, node_.id(), pc.to, pc.type, corrs[i], "", 0,
                          ms_between(pc.sent, std::chrono::steady_clock::now()), out.back().err().message()});
    }
  }
  lock.unlock();
  for (auto& e : timeouts) shared_.emit(std::move(e));
  return out;
}

bool requester::complete(const inbound_message& m, const frame& f) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(f.correlation);
  // Only the peer we asked can answer: the sender is authenticated by the
  // end-to-end session, the correlation id alone proves nothing.
  if (it == pending_.end() || !(it->second->to == m.sender)) return false;
  auto pc = it->second;
  pending_.erase(it);
  double rtt = ms_between(pc->sent, std::chrono::steady_clock::now());
  ++shared_.replies;
  // Traced before the caller wakes, so the trace shows the reply before what the caller does next.
  shared_.emit({0, 0, f.kind == frame_kind::reply ? "reply" : "error", pc->to_name, name_, m.sender, node_.id(),
                f.kind == frame_kind::reply ? f.type : pc->type, f.correlation, m.transport, f.body.size(), rtt,
                f.error_message});
  if (f.kind == frame_kind::reply) {
    pc->outcome.emplace(agent_reply{m.sender, agent_payload{f.type, f.body}, m.transport, rtt});
  } else {
    auto code = errc_from_string(f.error_code).value_or(errc::invalid_argument);
    pc->outcome.emplace(error{code, pc->to_name + " answered '" + pc->type + "' with " + f.error_code + ": " +
                                        f.error_message});
  }
  cv_.notify_all();
  return true;
}

void requester::cancel_all() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  cv_.notify_all();
}

// --- runtime -----------------------------------------------------------------

runtime::runtime(host_shared& shared, agent_config cfg, std::filesystem::path config_dir, std::shared_ptr<agent> a,
                 std::unique_ptr<node> n)
    : shared_(shared),
      cfg_(std::move(cfg)),
      config_dir_(std::move(config_dir)),
      data_dir_(n->config().data_dir),
      agent_(std::move(a)),
      node_(std::move(n)),
      requester_(shared, *node_, cfg_.name) {}

runtime::~runtime() {
  shutdown();
  stop_node();
}

void runtime::launch(void* sys) {
  auto& system = *static_cast<caf::actor_system*>(sys);
  actor_ = std::make_unique<actor_handle>();
  actor_->self = system.spawn<caf::detached>(agent_actor, this);
  running_ = true;
  pump_ = std::thread([this] { pump(); });
  caf::anon_send(actor_->self, go_atom::value);
}

void runtime::shutdown() {
  running_ = false;
  requester_.cancel_all();
  if (pump_.joinable()) pump_.join();
  if (actor_ && actor_->self) {
    caf::anon_send_exit(actor_->self, caf::exit_reason::user_shutdown);
    actor_->self = nullptr;
  }
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

void runtime::pump() {
  // Bounded by running_: each receive waits at most 200 ms.
  while (running_) {
    auto m = node_->receive(std::chrono::milliseconds(200));
    if (!m) {
      if (m.err().code() != errc::timeout) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    frame f;
    if (m->topic != agent_topic) {
      // A plain message (e.g. `aqua send`): a tell whose type is the topic.
      f.kind = frame_kind::tell;
      f.type = m->topic.empty() ? "text" : m->topic;
      f.body = m->payload;
    } else {
      auto decoded = decode(m->payload);
      if (!decoded) {
        ++shared_.rejected;
        spdlog::warn("agent {}: dropped a message from {}: {}", cfg_.name, m->sender.str(), decoded.err().what());
        continue;
      }
      f = std::move(*decoded);
    }
    if (f.kind == frame_kind::reply || f.kind == frame_kind::error) {
      if (!requester_.complete(*m, f)) {
        ++shared_.late;
        spdlog::info("agent {}: dropped a late or unexpected {} from {} ({})", cfg_.name, to_string(f.kind),
                     shared_.name_of(m->sender), f.correlation);
      }
      continue;
    }
    if (!accept_sender(*m)) {
      ++shared_.rejected;
      spdlog::warn("agent {}: refused a {} from unknown sender {}", cfg_.name, to_string(f.kind), m->sender.str());
      if (f.kind == frame_kind::request)
        send_frame(m->sender, frame{frame_kind::error, f.correlation, f.type, cfg_.name, 0, {}, "unknown_sender",
                                    "agent " + cfg_.name + " does not know you"},
                   1000);
      continue;
    }
    caf::anon_send(actor_->self, in_atom::value, std::make_shared<const work>(work{std::move(*m), std::move(f)}));
  }
}

void runtime::send_frame(const peer_id& to, const frame& f, std::uint64_t ttl_ms) {
  send_options o;
  o.ttl_ms = ttl_ms;
  o.topic = agent_topic;
  if (auto r = node_->send(to, encode(f), o); !r)
    spdlog::warn("agent {}: cannot send {} to {}: {}", cfg_.name, to_string(f.kind), shared_.name_of(to), r.err().what());
}

void runtime::handle(const inbound_message& m, const frame& f) {
  agent_message am{m.sender, f.from, agent_payload{f.type, f.body}, m.transport, m.trust, f.correlation,
                   f.deadline_unix_ms};
  if (f.kind == frame_kind::tell) {
    shared_.emit({0, 0, "tell", shared_.name_of(m.sender), cfg_.name, m.sender, node_->id(), f.type, {}, m.transport,
                  f.body.size(), 0, ""});
    try {
      agent_->on_message(*this, am);
    } catch (const std::exception& e) {
      spdlog::error("agent {}: on_message threw: {}", cfg_.name, e.what());
    }
    return;
  }
  auto now = now_ms();
  if (f.deadline_unix_ms && now > f.deadline_unix_ms) {
    ++shared_.rejected;
    spdlog::info("agent {}: request '{}' from {} arrived after its deadline; not run", cfg_.name, f.type,
                 shared_.name_of(m.sender));
    return;
  }
  result<agent_payload> r = error{errc::invalid_argument, "not run"};
  try {
    r = agent_->on_request(*this, am);
  } catch (const std::exception& e) {
    r = error{errc::invalid_argument, std::string("agent threw: ") + e.what()};
  }
  ++shared_.served;
  frame out;
  out.correlation = f.correlation;
  out.from = cfg_.name;
  if (r) {
    out.kind = frame_kind::reply;
    out.type = r->type;
    out.body = std::move(r->body);
  } else {
    out.kind = frame_kind::error;
    out.type = f.type;
    out.error_code = std::string(to_string(r.err().code()));
    out.error_message = r.err().message();
  }
  auto left = f.deadline_unix_ms ? f.deadline_unix_ms - now_ms() : 0;
  send_frame(m.sender, out, static_cast<std::uint64_t>(std::max<std::int64_t>(left, 1000)));
}

void runtime::run_start() {
  auto r = agent_->start(*this);
  if (!r) {
    spdlog::error("agent {}: start failed: {}", cfg_.name, r.err().what());
    note("start failed: " + r.err().what());
  }
}

std::string runtime::setting(const std::string& key, const std::string& fallback) const {
  auto it = cfg_.settings.find(key);
  return it == cfg_.settings.end() ? fallback : it->second;
}

std::filesystem::path runtime::path_setting(const std::string& key, const std::string& fallback) const {
  auto v = setting(key, fallback);
  if (v.empty()) return {};
  std::filesystem::path p(v);
  return p.is_absolute() ? p : (config_dir_ / p).lexically_normal();
}

result<peer_id> runtime::resolve(const std::string& who) {
  if (auto id = shared_.lookup(who)) return *id;
  if (auto id = peer_id::parse(who)) return *id;
  return error{errc::not_found, "'" + who + "' is neither a known agent nor a peer ID"};
}

result<void> runtime::tell(const std::string& to, agent_payload payload) {
  auto id = resolve(to);
  if (!id) return id.err();
  send_options o;
  o.topic = agent_topic;
  auto r = node_->send(*id, encode(frame{frame_kind::tell, {}, payload.type, cfg_.name, 0, payload.body, {}, {}}), o);
  if (!r) return r.err();
  return ok();
}

result<agent_reply> runtime::request(const std::string& to, agent_payload payload, std::chrono::milliseconds deadline) {
  return std::move(requester_.call({agent_call{to, std::move(payload)}}, deadline).front());
}

std::vector<result<agent_reply>> runtime::request_all(const std::vector<agent_call>& calls,
                                                      std::chrono::milliseconds deadline) {
  return requester_.call(calls, deadline);
}

void runtime::note(const std::string& text) {
  shared_.emit({0, 0, "note", cfg_.name, {}, node_->id(), {}, {}, {}, {}, 0, 0, text});
}

} // namespace aqua::agents
