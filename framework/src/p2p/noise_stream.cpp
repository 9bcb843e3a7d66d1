#include "p2p/noise_stream.hpp"

#include <algorithm>

#include "core/codec.hpp"
#include "e2ee/primitives.hpp"

namespace aqua::p2p {

noise_stream noise_stream::initiator(const keypair& identity, env& e, std::optional<peer_id> expected_remote) {
  return noise_stream(noise_handshake::initiator(identity, e, std::move(expected_remote)));
}

noise_stream noise_stream::responder(const keypair& identity, env& e) {
  return noise_stream(noise_handshake::responder(identity, e));
}

noise_stream::noise_stream(noise_handshake hs) : hs_(std::move(hs)) { (void) advance(); }

error noise_stream::fail(error e) {
  if (!error_) error_ = e;
  e2ee::wipe(pending_);
  pending_.clear();
  return e;
}

// Writes every handshake message that is ours to write; switches to the
// transport once the handshake is complete and flushes queued sends.
result<void> noise_stream::advance() {
  while (hs_ && hs_->our_turn()) {
    auto m = hs_->write_message();
    if (!m) return fail(std::move(m).err());
    codec::put_u16(out_, static_cast<std::uint16_t>(m->size()));
    out_.insert(out_.end(), m->begin(), m->end());
  }
  if (hs_ && hs_->complete()) {
    remote_ = hs_->remote_peer();
    auto t = hs_->finish();
    if (!t) return fail(std::move(t).err());
    tx_.emplace(std::move(*t));
    hs_.reset();
    if (!pending_.empty()) {
      bytes queued = std::move(pending_);
      pending_.clear();
      auto r = encrypt_frames(queued);
      e2ee::wipe(queued);
      if (!r) return r;
    }
  }
  return ok();
}

result<void> noise_stream::on_frame(bytes_view body) {
  if (hs_) {
    if (auto r = hs_->read_message(body); !r) return fail(r.err());
    return advance();
  }
  auto p = tx_->decrypt(body);
  if (!p) return fail(std::move(p).err());
  if (!p->empty()) {
    plain_bytes_ += p->size();
    plain_.push_back(std::move(*p));
  }
  return ok();
}

result<void> noise_stream::on_data(bytes_view in) {
  if (error_) return *error_;
  if (in.size() > max_buffered - std::min(buffered(), max_buffered))
    return error{errc::would_block, "noise stream: " + std::to_string(buffered()) + " bytes buffered, " +
                                        std::to_string(in.size()) + " more would exceed the 1 MiB bound; take plaintext first"};
  in_.insert(in_.end(), in.begin(), in.end());
  std::size_t pos = 0;
  result<void> r;
  while (in_.size() - pos >= length_prefix_size) {
    const std::size_t len = (std::size_t{in_[pos]} << 8) | in_[pos + 1];
    if (in_.size() - pos - length_prefix_size < len) break;
    const bytes_view body(in_.data() + pos + length_prefix_size, len);
    pos += length_prefix_size + len;
    r = on_frame(body);
    if (!r) break;
  }
  in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(pos));
  return r;
}

bytes noise_stream::take_output() {
  bytes out = std::move(out_);
  out_.clear();
  return out;
}

std::optional<bytes> noise_stream::next_plaintext() {
  if (plain_.empty()) return std::nullopt;
  bytes p = std::move(plain_.front());
  plain_.pop_front();
  plain_bytes_ -= p.size();
  return p;
}

result<void> noise_stream::encrypt_frames(bytes_view plaintext) {
  for (std::size_t at = 0; at < plaintext.size();) {
    const auto n = std::min(noise_transport::max_plaintext, plaintext.size() - at);
    const auto mark = out_.size();
    codec::put_u16(out_, static_cast<std::uint16_t>(n + noise_detail::tag_size));
    if (auto r = tx_->encrypt_to(plaintext.subspan(at, n), out_); !r) {
      out_.resize(mark);
      return fail(r.err());
    }
    at += n;
  }
  return ok();
}

result<void> noise_stream::send(bytes_view plaintext) {
  if (error_) return *error_;
  if (tx_) return encrypt_frames(plaintext);
  if (plaintext.size() > max_buffered - pending_.size())
    return error{errc::would_block, "noise stream: handshake not complete and " + std::to_string(pending_.size()) +
                                        " bytes already queued; the bound is 1 MiB"};
  pending_.insert(pending_.end(), plaintext.begin(), plaintext.end());
  return ok();
}

} // namespace aqua::p2p
