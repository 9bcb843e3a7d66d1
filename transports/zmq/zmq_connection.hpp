#pragma once
// One connection of the "zmq" transport: bounded inbound and outbound frame
// queues shared between the transport's I/O thread (which owns every ZeroMQ
// socket) and the node's threads (which call send/try_receive/close).

#include <aqua/transport.hpp>

#include <deque>
#include <functional>
#include <mutex>
#include <optional>

namespace aqua::zmqt {

struct limits {
  std::int64_t handshake_timeout_ms = 10000;
  // A dialled link whose TCP connection dropped redoes its handshake (zmq_transport::resume) until this long after
  // the drop; then it fails and routing redials with its next frame.
  std::int64_t resume_timeout_ms = 60000;
  std::size_t max_peers = 4096;  // connections per listener, handshaking or established
  // TCP connections per listener, in all and from one IP address (zmq_guard.hpp); max_connections is
  // lowered to half the process's open-file limit if that is less.
  std::size_t max_connections = 8192;
  std::size_t max_connections_per_ip = 256;
  // New TCP connections a second from one IP address (a bucket of that many, refilled at that rate); 0 = no limit.
  std::size_t new_connections_per_ip_per_s = 64;
  // A full listener drops its longest-idle established peer (nothing received
  // for at least this long) to take a new one; 0 = 3 x handshake_timeout_ms.
  std::int64_t evict_idle_ms = 0;
  std::int64_t unreachable_grace_ms = 5000;  // how long a peer may stay unroutable before its link fails
  std::size_t queue_frames = 1024;
  std::size_t queue_bytes = 8u << 20;
  std::size_t max_frame_bytes = 4u << 20;
  int hwm = 1000;
  int reconnect_ivl_ms = 100;
  int reconnect_ivl_max_ms = 5000;
  // What libzmq may hold of one socket's TCP connections together beyond the whole messages taken (zmq_meter.hpp).
  std::uint64_t max_held_bytes = std::uint64_t{256} << 20;
};

// The wire size of the largest aqua frame: Noise messages of at most 60000 bytes with their 16-byte tags, and
// ZMTP headers (zmq_meter.hpp counts it).
inline std::uint64_t message_wire_bytes(const limits& lim) {
  return lim.max_frame_bytes + (lim.max_frame_bytes / 60000 + 2) * 16;
}
// What one connection may hold beyond whole messages while its socket is read every turn: an unfinished message,
// one more that completes between a read turn and the check, and 4 MiB for what arrives meanwhile.
inline std::uint64_t reading_allowance(const limits& lim) { return 2 * message_wire_bytes(lim) + (4u << 20); }

class zconn : public connection {
 public:
  // `wake` gets the I/O thread to look at this connection; `flush` tries to
  // send the queued frames at once from the calling thread (falling back to
  // `wake` when the socket is busy).
  zconn(limits lim, std::string local, std::string remote, std::function<void()> wake, std::function<void()> flush)
      : lim_(lim), local_(std::move(local)), remote_(std::move(remote)), wake_(std::move(wake)),
        flush_(std::move(flush)) {}

  std::string local_address() const override { return local_; }
  std::string remote_address() const override { return remote_; }
  void set_observer(std::shared_ptr<connection_observer> obs) override;
  result<void> send(bytes_view frame) override;
  std::optional<bytes> try_receive() override;
  void close() override;
  bool is_open() const override;
  peer_id remote_peer() const override;

  // I/O-thread side.
  bool next_outbound(bytes& out);          // peek the oldest frame to send
  bool has_outbound() const;
  void pop_outbound();                      // it went out
  bool inbound_full() const;
  // Queues a frame from the peer; the caller then runs notify_readable(),
  // after letting go of the socket's mutex (so the reader's answer finds
  // the socket free).
  void push_inbound(bytes frame);
  void notify_readable();
  void mark_closed(const error& why);       // peer gone (e.g. unroutable)
  bool close_requested() const;
  void set_remote_peer(const peer_id& p);

 private:
  limits lim_;
  std::string local_, remote_;
  std::function<void()> wake_, flush_;
  mutable std::mutex m_;
  std::deque<bytes> in_, out_;
  std::size_t in_bytes_ = 0, out_bytes_ = 0;
  bool closed_ = false, close_requested_ = false, sender_blocked_ = false, reader_paused_ = false;
  std::optional<error> close_reason_;  // why mark_closed ended it: an observer set later is told the same
  std::shared_ptr<connection_observer> obs_;
  peer_id remote_peer_;
};

} // namespace aqua::zmqt
