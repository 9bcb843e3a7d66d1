#pragma once
// The in-process byte pipe behind one loopback connection: two bounded
// FIFO queues (one per direction) under one mutex. Sans-I/O in spirit: no
// threads, observers are called after the lock is released.

#include <deque>
#include <memory>
#include <mutex>

#include "aqua/transport.hpp"

namespace aqua::loopback {

struct limits {
  std::size_t queue_frames = 1024;
  std::size_t queue_bytes = 4u << 20;
  std::size_t max_frame_bytes = 2u << 20;  // a payload of crypto.max_frame_bytes (1 MiB) and its envelope
};

class pipe : public std::enable_shared_from_this<pipe> {
 public:
  explicit pipe(limits lim) : limits_(lim) {}

  // side is 0 (dialer) or 1 (listener); a side sends into the other's queue.
  result<void> send(int side, bytes_view frame);
  std::optional<bytes> receive(int side);
  void set_observer(int side, std::shared_ptr<connection_observer> obs);
  void close(int side);
  bool is_open() const;

 private:
  struct half {
    std::deque<bytes> queue;  // frames waiting to be received by this side
    std::size_t queued_bytes = 0;
    bool sender_blocked = false;  // the other side got would_block sending here
    std::shared_ptr<connection_observer> observer;
  };
  limits limits_;
  mutable std::mutex mutex_;
  half halves_[2];
  bool closed_ = false;
  int closed_by_ = -1;
};

class connection_end : public connection {
 public:
  connection_end(std::shared_ptr<pipe> p, int side, std::string local, std::string remote)
      : pipe_(std::move(p)), side_(side), local_(std::move(local)), remote_(std::move(remote)) {}
  ~connection_end() override { pipe_->close(side_); }

  std::string local_address() const override { return local_; }
  std::string remote_address() const override { return remote_; }
  void set_observer(std::shared_ptr<connection_observer> obs) override { pipe_->set_observer(side_, std::move(obs)); }
  result<void> send(bytes_view frame) override { return pipe_->send(side_, frame); }
  std::optional<bytes> try_receive() override { return pipe_->receive(side_); }
  void close() override { pipe_->close(side_); }
  bool is_open() const override { return pipe_->is_open(); }

 private:
  std::shared_ptr<pipe> pipe_;
  int side_;
  std::string local_;
  std::string remote_;
};

} // namespace aqua::loopback
