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

#include <functional>
#include <memory>
#include <mutex>

#include "aqua/env.hpp"
#include "p2p/stream_service.hpp"
#include "store/card_directory.hpp"

namespace aqua::p2p {

class card_service : public std::enable_shared_from_this<card_service> {
 public:
  using post_fn = std::function<bool(std::function<void()>)>;
  static constexpr std::int64_t sweep_interval_ms = 10 * 60 * 1000;

  static std::shared_ptr<card_service> create(std::shared_ptr<store::card_directory> directory,
                                              std::shared_ptr<env> e, post_fn post);
  ~card_service();
  // {"/aqua/card/1.0.0", open}: one handler per stream.
  stream_service service();
  // Loop thread: drops expired cards; returns how many.
  std::size_t sweep();
  store::card_directory& directory() { return *directory_; }

  // post_ as the store's committer thread sees it: usable only while the service lives.
  struct poster {
    std::mutex mu;
    post_fn post;  // empty once the service is gone
  };

 private:
  card_service(std::shared_ptr<store::card_directory> directory, std::shared_ptr<env> e, post_fn post);

  std::shared_ptr<store::card_directory> directory_;
  std::shared_ptr<env> env_;
  std::shared_ptr<poster> post_ = std::make_shared<poster>();
};

} // namespace aqua::p2p
