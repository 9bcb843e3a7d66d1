#include "zmq_connection.hpp"

namespace aqua::zmqt {

void zconn::set_observer(std::shared_ptr<connection_observer> obs) {
  bool pending = false, closed = false;
  std::optional<error> why;
  {
    std::lock_guard<std::mutex> g(m_);
    obs_ = obs;
    pending = !in_.empty();
    closed = closed_;
    why = close_reason_;
  }
  if (obs && pending) obs->on_readable();
  // The reason it ended (e.g. wrong_recipient), not a generic one: the close may come before the observer.
  if (obs && closed) obs->on_closed(why ? *why : error{errc::connection_closed, "zmq connection closed"});
}

result<void> zconn::send(bytes_view frame) {
  {
    std::lock_guard<std::mutex> g(m_);
    if (closed_ || close_requested_) return error{errc::connection_closed, "zmq connection to " + remote_ + " is closed"};
    if (frame.size() > lim_.max_frame_bytes)
      return error{errc::frame_too_large, "frame of " + std::to_string(frame.size()) + " bytes exceeds max_frame_bytes " +
                                              std::to_string(lim_.max_frame_bytes)};
    if (out_.size() >= lim_.queue_frames || out_bytes_ + frame.size() > lim_.queue_bytes) {
      sender_blocked_ = true;
      return error{errc::would_block, "send queue to " + remote_ + " is full"};
    }
    out_.emplace_back(frame.begin(), frame.end());
    out_bytes_ += frame.size();
  }
  flush_();
  return ok();
}

std::optional<bytes> zconn::try_receive() {
  std::optional<bytes> f;
  bool resume = false;
  {
    std::lock_guard<std::mutex> g(m_);
    if (in_.empty()) return std::nullopt;
    f = std::move(in_.front());
    in_.pop_front();
    in_bytes_ -= f->size();
    if (reader_paused_ && in_.size() <= lim_.queue_frames / 2) {
      reader_paused_ = false;
      resume = true;
    }
  }
  if (resume) wake_();  // the I/O thread polls this socket again
  return f;
}

void zconn::close() {
  {
    std::lock_guard<std::mutex> g(m_);
    if (close_requested_) return;
    close_requested_ = true;
  }
  wake_();
}

bool zconn::is_open() const {
  std::lock_guard<std::mutex> g(m_);
  return !closed_ && !close_requested_;
}

bool zconn::next_outbound(bytes& out) {
  std::lock_guard<std::mutex> g(m_);
  if (out_.empty() || closed_) return false;
  out = out_.front();
  return true;
}

bool zconn::has_outbound() const {
  std::lock_guard<std::mutex> g(m_);
  return !out_.empty() && !closed_;
}

void zconn::pop_outbound() {
  std::shared_ptr<connection_observer> wake;
  {
    std::lock_guard<std::mutex> g(m_);
    if (out_.empty()) return;
    out_bytes_ -= out_.front().size();
    out_.pop_front();
    if (sender_blocked_ && out_.size() <= lim_.queue_frames / 2) {
      sender_blocked_ = false;
      wake = obs_;
    }
  }
  if (wake) wake->on_writable();
}

bool zconn::inbound_full() const {
  std::lock_guard<std::mutex> g(m_);
  return in_.size() >= lim_.queue_frames || in_bytes_ >= lim_.queue_bytes;
}

void zconn::push_inbound(bytes frame) {
  std::lock_guard<std::mutex> g(m_);
  in_bytes_ += frame.size();
  in_.push_back(std::move(frame));
  if (in_.size() >= lim_.queue_frames || in_bytes_ >= lim_.queue_bytes) reader_paused_ = true;
}

void zconn::notify_readable() {
  std::shared_ptr<connection_observer> obs;
  {
    std::lock_guard<std::mutex> g(m_);
    obs = obs_;
  }
  if (obs) obs->on_readable();
}

void zconn::mark_closed(const error& why) {
  std::shared_ptr<connection_observer> obs;
  {
    std::lock_guard<std::mutex> g(m_);
    if (closed_) return;
    closed_ = true;
    close_reason_ = why;
    obs = obs_;
  }
  if (obs) obs->on_closed(why);
}

peer_id zconn::remote_peer() const {
  std::lock_guard<std::mutex> g(m_);
  return remote_peer_;
}

void zconn::set_remote_peer(const peer_id& p) {
  std::lock_guard<std::mutex> g(m_);
  remote_peer_ = p;
}

bool zconn::close_requested() const {
  std::lock_guard<std::mutex> g(m_);
  return close_requested_;
}

} // namespace aqua::zmqt
