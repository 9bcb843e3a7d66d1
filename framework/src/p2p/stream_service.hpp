#pragma once
// Private: an application protocol a server built on tcp_host (the relay
// server) offers on streams its peers open, e.g. /aqua/mailbox/1.0.0.
//
// Sans-I/O on purpose: a handler is bytes in -> bytes out; the server owns
// the stream, writes take_output() after every call and resets the stream
// when a call returns an error. Everything runs on the server's loop thread.
//
//   server_config.services.push_back({"/aqua/mailbox/1.0.0",
//       [&](stream_context ctx) { return std::make_unique<my_handler>(ctx); }});

#include <functional>
#include <memory>
#include <string>

#include "aqua/bytes.hpp"
#include "aqua/error.hpp"
#include "aqua/identity.hpp"

namespace aqua::p2p {

class stream_handler {
 public:
  virtual ~stream_handler() = default;
  // Bytes from the peer, in order. An error resets the stream (the handler
  // is destroyed right after).
  virtual result<void> on_data(bytes_view data) = 0;
  // The peer half-closed its side: no more on_data.
  virtual void on_remote_closed() {}
  // Bytes to send to the peer now (empty: nothing). Called after every
  // on_data/on_remote_closed and after wake().
  virtual bytes take_output() = 0;
  // true: the server closes our side once the output is written and
  // destroys the handler.
  virtual bool finished() const { return false; }
  // true: the server resets the stream (unsent output is dropped) and
  // destroys the handler; checked after every take_output(). For a handler
  // that gives up outside on_data (e.g. a timeout noticed on a wake()).
  virtual bool aborted() const { return false; }
};

struct stream_context {
  peer_id remote;           // authenticated by Noise
  std::string remote_addr;  // "/ip4/A/tcp/P" of the connection (the carrier's for relayed ones)
  bool relayed = false;     // the connection itself runs over a circuit
  // Asks the server to call take_output()/finished() again soon (e.g. new
  // data for this peer arrived through another stream). Loop thread only;
  // safe to call from inside any handler's callback and after the stream
  // is gone (then it does nothing).
  std::function<void()> wake;
  bool reserved = false;    // the peer holds a reservation on this relay through this connection
};

struct stream_service {
  std::string protocol;
  // A peer opened a stream speaking `protocol`.
  std::function<std::unique_ptr<stream_handler>(stream_context ctx)> open;
};

} // namespace aqua::p2p
