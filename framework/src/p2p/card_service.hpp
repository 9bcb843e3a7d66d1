#pragma once
// Private: the relay side of /aqua/card/1.0.0 (docs/protocol/card-directory.md)
// as a stream_service: one request per stream, one answer, then the relay
// closes its side. PUBLISH keeps the connection's own card (the peer must
// hold a reservation on this relay) once it is durable in the
// card_directory; LOOKUP answers the card held for a peer, or NOT_FOUND.
//
//   auto cs = card_service::create(directory, env, [&rs](auto fn) { return rs.post(std::move(fn)); });
//   rs.add_service(cs->service());
//   every sweep_interval_ms on the loop thread: cs->sweep();
//   every reap_interval_ms on the loop thread: cs->reap();

#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "aqua/env.hpp"
#include "p2p/stream_service.hpp"
#include "store/card_directory.hpp"

namespace aqua::p2p {

class card_stream;

class card_service : public std::enable_shared_from_this<card_service> {
 public:
  using post_fn = std::function<bool(std::function<void()>)>;
  static constexpr std::int64_t sweep_interval_ms = 10 * 60 * 1000;
  static constexpr std::int64_t reap_interval_ms = 1000;

  // `incomplete_timeout_ms`: a stream whose request is not whole this long after its first byte is reset by
  // reap() (a node uses relay.mailbox_incomplete_timeout_s, as for the mailbox).
  static std::shared_ptr<card_service> create(std::shared_ptr<store::card_directory> directory,
                                              std::shared_ptr<env> e, post_fn post,
                                              std::int64_t incomplete_timeout_ms = 30000);
  ~card_service();
  // {"/aqua/card/1.0.0", open}: one handler per stream.
  stream_service service();
  // Loop thread: drops expired cards; returns how many.
  std::size_t sweep();
  // Loop thread: resets the streams whose request is still incomplete incomplete_timeout_ms after its first
  // byte (each may hold up to a max_message_size of buffered bytes); returns how many.
  std::size_t reap();
  store::card_directory& directory() { return *directory_; }

  // post_ as the store's committer thread sees it: usable only while the service lives.
  struct poster {
    std::mutex mu;
    post_fn post;  // empty once the service is gone
  };

 private:
  friend class card_stream;
  card_service(std::shared_ptr<store::card_directory> directory, std::shared_ptr<env> e, post_fn post,
               std::int64_t incomplete_timeout_ms);

  std::shared_ptr<store::card_directory> directory_;
  std::shared_ptr<env> env_;
  std::shared_ptr<poster> post_ = std::make_shared<poster>();
  std::int64_t incomplete_timeout_ms_;
  // The open streams (loop thread: created, reaped and destroyed there).
  std::map<std::uint64_t, card_stream*> streams_;
  std::uint64_t next_stream_ = 1;
};

} // namespace aqua::p2p
