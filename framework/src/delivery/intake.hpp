#pragma once
// Private, sans-I/O: the frames a node received and has not opened yet. The
// mailbox opens them in batches (one crypto request each); a peer decides how
// fast frames arrive, and opening can be slower than its link (a session setup
// costs two to six X25519), so what waits is bounded:
// - at most `max_bytes` of frames wait or are being opened; push() refuses
//   more (the mailbox drops the frame: its sender retries, docs/protocol/delivery.md);
// - at most `max_in_flight` batches are out at once, each of at most
//   `max_batch` frames, so the crypto actor's own queue stays short too.
// Frames keep their arrival order.

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace aqua::delivery {

template <class T>
class intake {
 public:
  struct batch {
    std::vector<T> items;
    std::size_t bytes = 0;  // give back with done()
  };

  intake(std::size_t max_bytes, std::size_t max_batch, std::size_t max_in_flight)
      : max_bytes_(max_bytes), max_batch_(max_batch == 0 ? 1 : max_batch), max_in_flight_(max_in_flight) {}

  // Queues `item` of `bytes` (its frame's size); false when that would hold more than max_bytes.
  bool push(T item, std::size_t bytes) {
    if (bytes > max_bytes_ || held_ > max_bytes_ - bytes) return false;
    held_ += bytes;
    waiting_.emplace_back(std::move(item), bytes);
    return true;
  }

  // Whether take() would return a batch.
  bool ready() const { return !waiting_.empty() && in_flight_ < max_in_flight_; }

  // The next batch, oldest first; none when nothing waits or max_in_flight batches are out.
  std::optional<batch> take() {
    if (!ready()) return std::nullopt;
    batch b;
    while (!waiting_.empty() && b.items.size() < max_batch_) {
      b.bytes += waiting_.front().second;
      b.items.push_back(std::move(waiting_.front().first));
      waiting_.pop_front();
    }
    ++in_flight_;
    return b;
  }

  // A batch from take() was opened (or failed): its bytes and its slot are free again.
  void done(std::size_t batch_bytes) {
    held_ -= batch_bytes < held_ ? batch_bytes : held_;
    if (in_flight_ > 0) --in_flight_;
  }

  std::size_t held_bytes() const { return held_; }  // waiting and being opened
  std::size_t waiting() const { return waiting_.size(); }
  std::size_t in_flight() const { return in_flight_; }
  std::size_t max_bytes() const { return max_bytes_; }

 private:
  std::size_t max_bytes_, max_batch_, max_in_flight_;
  std::deque<std::pair<T, std::size_t>> waiting_;
  std::size_t held_ = 0, in_flight_ = 0;
};

} // namespace aqua::delivery
