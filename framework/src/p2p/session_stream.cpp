#include "p2p/session_stream.hpp"

#include <cstring>

#include "core/codec.hpp"
#include "p2p/noise_handshake.hpp"
#include "p2p/noise_transport.hpp"

namespace aqua::p2p {
namespace {

// A secure_session over noise_handshake + noise_transport.
class keypair_session : public secure_session {
 public:
  explicit keypair_session(noise_handshake hs) : hs_(std::move(hs)) {}
  result<std::optional<bytes>> handshake_output() override {
    if (tx_ || !hs_.our_turn()) return std::optional<bytes>();
    auto m = hs_.write_message();
    if (!m) return m.err();
    if (auto r = finish(); !r) return r.err();
    return std::optional<bytes>(std::move(*m));
  }
  result<void> handshake_input(bytes_view message) override {
    if (tx_) return error{errc::bad_frame, "noise: handshake message after the handshake completed"};
    if (auto r = hs_.read_message(message); !r) return r;
    return finish();
  }
  bool established() const override { return tx_.has_value(); }
  const peer_id& remote_peer() const override { return hs_.remote_peer(); }
  result<std::vector<bytes>> seal(bytes_view frame) override {
    if (!tx_) return error{errc::not_running, "noise: not established"};
    std::vector<bytes> out;
    std::size_t off = 0;
    do {
      const auto n = std::min(noise_transport::max_plaintext, frame.size() - off);
      auto c = tx_->encrypt(frame.subspan(off, n));
      if (!c) return c.err();
      out.push_back(std::move(*c));
      off += n;
    } while (off < frame.size());
    return out;
  }
  result<bytes> open(bytes_view message) override {
    if (!tx_) return error{errc::not_running, "noise: not established"};
    return tx_->decrypt(message);
  }

 private:
  result<void> finish() {
    if (!hs_.complete() || tx_) return ok();
    auto t = hs_.finish();
    if (!t) return t.err();
    tx_.emplace(std::move(*t));
    return ok();
  }
  noise_handshake hs_;
  std::optional<noise_transport> tx_;
};

} // namespace

session_factory keypair_sessions(const keypair& identity, env& e) {
  return [&identity, &e](bool initiator, std::optional<peer_id> expected) -> std::unique_ptr<secure_session> {
    if (initiator) return std::make_unique<keypair_session>(noise_handshake::initiator(identity, e, std::move(expected)));
    return std::make_unique<keypair_session>(noise_handshake::responder(identity, e));
  };
}

session_stream::session_stream(std::unique_ptr<secure_session> s) : s_(std::move(s)) { (void) advance(); }

error session_stream::fail(error e) {
  if (!error_) error_ = e;
  pending_.clear();
  return e;
}

result<void> session_stream::advance() {
  for (int i = 0; i < 4 && !s_->established(); ++i) {
    auto m = s_->handshake_output();
    if (!m) return fail(std::move(m).err());
    if (!*m) break;
    codec::put_u16(out_, static_cast<std::uint16_t>((*m)->size()));
    out_.insert(out_.end(), (*m)->begin(), (*m)->end());
  }
  if (s_->established() && !pending_.empty()) {
    bytes queued = std::move(pending_);
    pending_.clear();
    return seal_frames(queued);
  }
  return ok();
}

result<void> session_stream::on_frame(bytes_view body) {
  if (!s_->established()) {
    if (auto r = s_->handshake_input(body); !r) return fail(r.err());
    return advance();
  }
  auto p = s_->open(body);
  if (!p) return fail(std::move(p).err());
  if (!p->empty()) {
    plain_bytes_ += p->size();
    plain_.push_back(std::move(*p));
  }
  return ok();
}

result<void> session_stream::on_data(bytes_view in) {
  if (error_) return *error_;
  if (in.size() > max_buffered - std::min(buffered(), max_buffered))
    return error{errc::would_block, "noise stream: input above the 1 MiB bound; take plaintext first"};
  const std::size_t at = in_.size();
  in_.resize(at + in.size());
  if (!in.empty()) std::memcpy(in_.data() + at, in.data(), in.size());
  std::size_t pos = 0;
  result<void> r;
  while (in_.size() - pos >= 2) {
    const std::size_t len = (std::size_t{in_[pos]} << 8) | in_[pos + 1];
    if (in_.size() - pos - 2 < len) break;
    const bytes_view body(in_.data() + pos + 2, len);
    pos += 2 + len;
    r = on_frame(body);
    if (!r) break;
  }
  in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(pos));
  return r;
}

bytes session_stream::take_output() {
  bytes out = std::move(out_);
  out_.clear();
  return out;
}

std::optional<bytes> session_stream::next_plaintext() {
  if (plain_.empty()) return std::nullopt;
  bytes p = std::move(plain_.front());
  plain_.pop_front();
  plain_bytes_ -= p.size();
  return p;
}

result<void> session_stream::seal_frames(bytes_view plaintext) {
  if (plaintext.empty()) return ok();
  auto msgs = s_->seal(plaintext);
  if (!msgs) return fail(std::move(msgs).err());
  for (const auto& m : *msgs) {
    codec::put_u16(out_, static_cast<std::uint16_t>(m.size()));
    out_.insert(out_.end(), m.begin(), m.end());
  }
  return ok();
}

result<void> session_stream::send(bytes_view plaintext) {
  if (error_) return *error_;
  if (s_->established()) return seal_frames(plaintext);
  if (plaintext.size() > max_buffered - pending_.size())
    return error{errc::would_block, "noise stream: handshake not complete and 1 MiB already queued"};
  pending_.insert(pending_.end(), plaintext.begin(), plaintext.end());
  return ok();
}

} // namespace aqua::p2p
