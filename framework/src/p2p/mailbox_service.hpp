#pragma once
// Private: the relay side of /aqua/mailbox/1.0.0 (docs/protocol/mailbox.md)
// as a stream_service: DEPOSIT streams answered once the envelope is
// durable in held_mail, FETCH streams that push the remote peer's own mail
// (authenticated by the connection's Noise identity) in windows and delete
// what it acknowledges.
//
//   auto mb = mailbox_service::create(held, env, [&host](auto fn) { return host.post(std::move(fn)); });
//   server_config.services.push_back(mb->service());
//   every sweep_interval_ms on the loop thread: mb->sweep();
//
// Handlers run on the server's loop thread. `post` must run a function on
// that thread later (from any thread): held_mail reports durability on the
// store's committer thread, and the answer is written from the loop.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "aqua/env.hpp"
#include "p2p/mailbox_messages.hpp"
#include "p2p/stream_service.hpp"
#include "store/held_mail.hpp"

namespace aqua::p2p {

// Bytes counted per remote peer and in all, for the service's memory bounds (no zero entries per peer).
struct peer_bytes {
  std::size_t total = 0;
  std::map<std::string, std::size_t> by_peer;
  std::size_t of(const std::string& peer) const {
    auto it = by_peer.find(peer);
    return it == by_peer.end() ? 0 : it->second;
  }
  void add(const std::string& peer, std::size_t n) {
    if (n == 0) return;
    by_peer[peer] += n;
    total += n;
  }
  // At most what is counted for `peer`.
  void remove(const std::string& peer, std::size_t n) {
    auto it = by_peer.find(peer);
    if (it == by_peer.end()) return;
    n = std::min(n, it->second);
    it->second -= n;
    total -= n;
    if (it->second == 0) by_peer.erase(it);
  }
};

struct mailbox_service_config {
  std::size_t window_messages = mailbox::window_messages;  // sent on a fetch stream and not yet acknowledged
  std::size_t window_bytes = mailbox::window_bytes;        // ... their envelope bytes (one may exceed it alone)
  std::size_t max_pending_deposits = 16;  // unanswered DEPOSITs per stream; more resets the stream
  std::size_t max_fetch_streams = 4096;   // open fetch streams in total; more are answered REFUSED
  // ... and per remote peer: one peer cannot take the slots of every other (a client keeps one per connection).
  std::size_t max_fetch_streams_per_peer = 4;
  std::int64_t sweep_interval_ms = 60000; // how often the owner should call sweep()
  // A message is parsed once whole, so the bytes of a started one are buffered (up to max_message_size per
  // stream). Bounds on those bytes, per remote peer and in all; a stream that takes either past its bound is
  // reset. Each should hold at least one max_message_size, or the largest deposits can never arrive.
  std::size_t max_incomplete_bytes_per_peer = 16u << 20;
  std::size_t max_incomplete_bytes_total = 128u << 20;
  // Whole DEPOSITs handed to held_mail and not durable yet (their envelopes wait in memory for the store's
  // committer; up to max_pending_deposits per stream, and a peer may open many streams): bounds per remote
  // peer and in all. A deposit past either is answered QUOTA_EXCEEDED at once and not kept; the depositor may
  // try again once its earlier deposits are answered. node.cpp sets them to the incomplete bounds.
  std::size_t max_storing_bytes_per_peer = 16u << 20;
  std::size_t max_storing_bytes_total = 128u << 20;
  // A stream whose started message is not whole this long after its first byte is reset (by reap()).
  std::int64_t incomplete_timeout_ms = 30000;
  std::int64_t reap_interval_ms = 1000;  // how often the owner should call reap()
};

using post_fn = std::function<bool(std::function<void()>)>;

class mailbox_stream;

class mailbox_service : public std::enable_shared_from_this<mailbox_service> {
 public:
  static std::shared_ptr<mailbox_service> create(std::shared_ptr<store::held_mail> mail, std::shared_ptr<env> e,
                                                 post_fn post, mailbox_service_config config = {});
  // {"/aqua/mailbox/1.0.0", open}: one handler per stream.
  stream_service service();
  // Loop thread: deletes held mail past its expiry (at most 1024 per call);
  // returns how many.
  std::size_t sweep();
  // Loop thread: resets the streams whose started message passed incomplete_timeout_ms; returns how many.
  std::size_t reap();
  std::size_t fetch_streams() const { return fetchers_.size(); }
  std::size_t incomplete_bytes() const { return incomplete_.total; }
  std::size_t storing_bytes() const { return storing_.total; }
  const mailbox_service_config& config() const { return config_; }
  store::held_mail& mail() { return *mail_; }

 private:
  friend class mailbox_stream;
  mailbox_service(std::shared_ptr<store::held_mail> mail, std::shared_ptr<env> e, post_fn post,
                  mailbox_service_config config);
  std::unique_ptr<stream_handler> open(stream_context ctx);
  // Loop thread: new mail for `recipient` is durable; wake its fetch streams.
  void notify(const std::string& recipient);
  // Loop thread: `bytes` of `depositor`'s deposits were answered by the store (durable or refused).
  void stored(const std::string& depositor, std::size_t bytes);

  // post_ as the store's committer thread sees it: usable only while the service lives
  // (that thread must never hold the last reference to the service, nor call a dead post).
  struct poster {
    std::mutex mu;
    post_fn post;  // empty once the service is gone
  };

 public:
  ~mailbox_service();

 private:
  std::shared_ptr<store::held_mail> mail_;
  std::shared_ptr<env> env_;
  std::shared_ptr<poster> post_ = std::make_shared<poster>();
  mailbox_service_config config_;
  std::uint64_t next_stream_ = 1;
  std::map<std::uint64_t, mailbox_stream*> streams_;      // live handlers by id
  std::multimap<std::string, std::uint64_t> fetchers_;    // recipient -> fetch handler ids
  peer_bytes incomplete_;  // bytes of started messages, per remote peer and on all streams
  peer_bytes storing_;     // envelope bytes of deposits the store has not answered, per depositor and in all
};

} // namespace aqua::p2p
