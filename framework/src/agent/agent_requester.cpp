// The names, trace and counters a host shares with its agents, and the
// requester: sends requests and matches their reply frames (agent_runtime.hpp).

#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/agent_runtime.hpp"
#include "aqua/env.hpp"

namespace aqua::agents {
namespace {

std::int64_t now_ms() { return system_env()->now_unix_ms(); }

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

} // namespace

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

std::chrono::milliseconds saturated_deadline(std::chrono::milliseconds deadline) {
  return std::clamp(deadline, std::chrono::milliseconds(0), longest_deadline);
}

std::vector<result<agent_reply>> requester::call(const std::vector<agent_call>& calls, std::chrono::milliseconds asked) {
  // A huge deadline (milliseconds::max()) would overflow steady_clock and the unix-ms arithmetic below: saturate.
  const auto deadline = saturated_deadline(asked);
  auto start = std::chrono::steady_clock::now();
  auto until = start + deadline;
  const auto deadline_ms = deadline.count();
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
        ++cut_short_;
        done[i] = error{errc::not_running, "agent " + name_ + " is stopping"};
        continue;
      }
      pending_[corrs[i]] = pc;
    }
    auto payload = encode(
      frame{frame_kind::request, corrs[i], c.payload.type, name_, now_ms() + deadline_ms, c.payload.body, {}, {}});
    if (!payload) {
      std::lock_guard lock(mutex_);
      pending_.erase(corrs[i]);
      done[i] = error{payload.err().code(), "request '" + c.payload.type.substr(0, 64) + "' to " + pc->to_name + ": " +
                                               payload.err().message()};
      continue;
    }
    send_options o;
    o.timeout = std::max(deadline, std::chrono::milliseconds(1000));
    o.ttl_ms = static_cast<std::uint64_t>(std::max<std::int64_t>(deadline_ms, 1000));
    o.topic = agent_topic;
    shared_.emit({0, 0, "request", name_, pc->to_name, node_.id(), *to, c.payload.type, corrs[i], "",
                  c.payload.body.size(), 0, ""});
    auto sent = node_.send(*to, std::move(*payload), o);
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
        ++cut_short_;
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

} // namespace aqua::agents
