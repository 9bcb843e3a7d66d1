#include "loopback_pipe.hpp"

namespace aqua::loopback {

result<void> pipe::send(int side, bytes_view frame) {
  std::shared_ptr<connection_observer> notify;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (closed_) return error{errc::connection_closed, "loopback connection is closed"};
    if (frame.size() > limits_.max_frame_bytes)
      return error{errc::frame_too_large, "frame of " + std::to_string(frame.size()) + " bytes exceeds max_frame_bytes " +
                                              std::to_string(limits_.max_frame_bytes)};
    half& dst = halves_[1 - side];
    if (dst.queue.size() >= limits_.queue_frames || dst.queued_bytes + frame.size() > limits_.queue_bytes) {
      dst.sender_blocked = true;
      return error{errc::would_block, "peer queue full (" + std::to_string(dst.queue.size()) + " frames, " +
                                          std::to_string(dst.queued_bytes) + " bytes)"};
    }
    dst.queued_bytes += frame.size();
    dst.queue.emplace_back(frame.begin(), frame.end());
    notify = dst.observer;
  }
  if (notify) notify->on_readable();
  return ok();
}

std::optional<bytes> pipe::receive(int side) {
  std::shared_ptr<connection_observer> notify;
  std::optional<bytes> out;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    half& mine = halves_[side];
    if (mine.queue.empty()) return std::nullopt;
    out = std::move(mine.queue.front());
    mine.queue.pop_front();
    mine.queued_bytes -= out->size();
    // Wake a blocked sender once the queue has drained to half capacity.
    if (mine.sender_blocked && mine.queue.size() <= limits_.queue_frames / 2 &&
        mine.queued_bytes <= limits_.queue_bytes / 2) {
      mine.sender_blocked = false;
      if (!closed_) notify = halves_[1 - side].observer;
    }
  }
  if (notify) notify->on_writable();
  return out;
}

void pipe::set_observer(int side, std::shared_ptr<connection_observer> obs) {
  bool pending = false;
  bool closed = false;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    halves_[side].observer = obs;
    pending = !halves_[side].queue.empty();
    closed = closed_ && closed_by_ != side;
  }
  if (obs && pending) obs->on_readable();
  if (obs && closed) obs->on_closed(error{errc::connection_closed, "closed by peer"});
}

void pipe::close(int side) {
  std::shared_ptr<connection_observer> notify;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (closed_) return;
    closed_ = true;
    closed_by_ = side;
    notify = halves_[1 - side].observer;
    halves_[side].observer.reset();
    // Our own unread frames are dropped; the peer keeps what we sent.
    halves_[side].queue.clear();
    halves_[side].queued_bytes = 0;
  }
  if (notify) notify->on_closed(error{errc::connection_closed, "closed by peer"});
}

bool pipe::is_open() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return !closed_;
}

} // namespace aqua::loopback
