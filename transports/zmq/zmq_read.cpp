// The zmq transport's I/O thread, reading: whole messages from the sockets,
// each metered against the TCP connection it came from (zmq_meter.hpp).

#include "zmq_transport.hpp"

namespace aqua::zmqt {
namespace {

int source_fd(zmq::message_t& m) {
  try {
    return m.get(ZMQ_SRCFD);
  } catch (const zmq::error_t&) {
    return -1;
  }
}

// Reads the rest of a multipart message; at most `max_parts` are kept (the
// rest is drained and dropped, and the message reported as oversized). The
// message's wire size (all parts) is counted on `meter` for the TCP
// connection it came from.
bool read_rest(zmq::socket_t& s, zmq::message_t& first, std::vector<zmq::message_t>& out, std::size_t max_parts,
               byte_meter* meter) {
  const int fd = source_fd(first);
  bool more = first.more();
  std::uint64_t wire = byte_meter::wire_size(first.size());
  out.push_back(std::move(first));
  bool fits = true;
  while (more) {
    zmq::message_t part;
    if (!s.recv(part, zmq::recv_flags::dontwait)) break;  // multipart messages arrive whole
    more = part.more();
    wire += byte_meter::wire_size(part.size());
    if (out.size() < max_parts) out.push_back(std::move(part));
    else fits = false;
  }
  if (meter) meter->took(fd, wire);
  return fits;
}

} // namespace

bool zmq_transport::drain_router(const std::shared_ptr<listener>& lp, std::size_t max_parts) {
  auto& s = *lp->sock;
  for (int n = 0; n < 256; ++n) {
    zmq::message_t rid, first;
    if (!s.recv(rid, zmq::recv_flags::dontwait)) return false;
    if (!rid.more() || !s.recv(first, zmq::recv_flags::dontwait)) continue;
    std::vector<zmq::message_t> msg;
    if (!read_rest(s, first, msg, max_parts, lp->meter.get())) {
      // Oversized: dropped unread, and its link ends as the dialler's does. Left up, its session would expect the
      // Noise messages the peer sealed into it, so the next good frame failed (after a stall) anyway.
      if (auto it = lp->peers.find(rid.to_string()); it != lp->peers.end()) {
        fail_link(it->second, error{errc::frame_too_large, "peer sent a frame larger than max_frame_bytes"});
        erase_peer(*lp, it);
      }
      continue;
    }
    on_router_message(lp, rid.to_string(), msg);
  }
  return true;
}

bool zmq_transport::drain(dealer& d, std::size_t max_parts) {
  for (int n = 0; n < 256; ++n) {
    if (d.l.conn->inbound_full()) return false;  // resumed by a wake-up once the node read some
    zmq::message_t first;
    if (!d.sock->recv(first, zmq::recv_flags::dontwait)) return false;
    std::vector<zmq::message_t> msg;
    if (!read_rest(*d.sock, first, msg, max_parts, d.meter.get())) {
      fail_link(d.l, error{errc::frame_too_large, "peer sent a frame larger than max_frame_bytes"});
      return false;
    }
    on_dealer_message(d, msg);
  }
  return true;
}

} // namespace aqua::zmqt
