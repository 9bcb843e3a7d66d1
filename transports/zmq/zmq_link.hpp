#pragma once
// The secure link of one zmq connection: the Noise XX session that
// authenticates the peer (docs/protocol/noise.md) and the zmq message
// format around it (docs/protocol/noise.md, "Framing over message transports"). No sockets here:
// messages in, messages out — the transport's I/O thread moves them.
//
// Every zmq message (after the ROUTER's routing-id part) is multipart:
//   [0x01] [noise handshake message]             handshake, 3 messages (XX)
//   [0x02] [noise message] [noise message] ...   one frame, sealed in <=65535-byte chunks
//   [0x03]                                       reset: "I have no session for you; redial"

#include <aqua/transport.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "zmq_connection.hpp"

namespace aqua::zmqt {

enum class kind : std::uint8_t { handshake = 1, data = 2, reset = 3 };

using parts = std::vector<bytes>;

struct link {
  std::shared_ptr<zconn> conn;
  std::unique_ptr<secure_session> session;
  std::int64_t started_ms = 0;
  // Listener side: when the peer's last message arrived (steady ms). A ROUTER
  // never learns that a peer's TCP connection closed, so when the listener is
  // full the longest-idle peer makes room (zmq_transport::on_router_message).
  std::int64_t last_rx_ms = 0;
  bool announced = false;  // listener side: handed to the node once authenticated
  int fd = -1;             // listener side: the TCP connection's fd (libzmq's ZMQ_SRCFD), -1 if unknown
  // A sealed frame ZeroMQ could not take yet (its pipe to the peer is at the
  // high-water mark): sent before anything else, never re-sealed (the Noise
  // nonce already advanced).
  std::optional<parts> sealed_pending;
  // Handshake and reset messages waiting for ZeroMQ to take them (sent before any data).
  std::deque<parts> control_out;
  // Since when ZeroMQ has refused our messages as unroutable (0: it has not).
  // libzmq's ROUTER_MANDATORY also reports a pipe that is briefly inactive
  // after reaching its high-water mark as EHOSTUNREACH, so only a refusal
  // that lasts is a vanished peer.
  std::int64_t unreachable_since = 0;
  // Listener side, once established: the TCP connection's peer "ip port" (the fd number may be reused).
  std::string tcp_peer;
  // Dialler side: redoing the handshake because the TCP connection of an
  // established link ended (zmq_transport::resume); started_ms is the drop.
  bool resuming = false;

  bool established() const { return session && session->established(); }
  // Something is queued for this link that ZeroMQ has not taken yet.
  bool waiting() const {
    return !control_out.empty() || sealed_pending || (established() && conn->has_outbound());
  }
  // Our next handshake message, if it is our turn: [0x01][msg].
  result<std::optional<parts>> handshake_out();
  // A handshake message from the peer. On success with a newly established
  // session, remote_peer is set on the connection.
  result<void> handshake_in(bytes_view msg);
  // One frame as [0x02][chunk]...
  result<parts> seal(bytes_view frame);
  // The chunks of one data message (parts after the kind byte) -> the frame.
  result<bytes> open(const std::vector<bytes_view>& chunks, std::size_t max_frame);
};

parts reset_message();

inline std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

} // namespace aqua::zmqt
