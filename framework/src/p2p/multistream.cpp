#include "p2p/multistream.hpp"

#include <algorithm>
#include <utility>

#include "p2p/protobuf.hpp"

namespace aqua::p2p {
namespace {

constexpr std::string_view na_message = "na";
constexpr std::string_view ls_message = "ls";

void append(bytes& out, bytes_view b) { out.insert(out.end(), b.begin(), b.end()); }

// Empty if `name` can be proposed/echoed, else why not.
std::string bad_protocol_name(const std::string& name) {
  if (name.empty()) return "empty protocol name";
  if (name.size() + 1 > multistream_max_message)
    return "protocol name of " + std::to_string(name.size()) + " bytes exceeds " +
           std::to_string(multistream_max_message - 1);
  if (name.find('\n') != std::string::npos) return "protocol name contains a newline";
  if (name == na_message || name == ls_message || name == multistream_protocol_id)
    return "'" + name + "' is reserved by multistream-select";
  return {};
}

// A short, printable rendering of peer-sent text for error messages.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 64) out += "...";
  return out + "\"";
}

} // namespace

bytes multistream_encode(std::string_view text) {
  bytes out;
  pb::put_varint(out, text.size() + 1);
  append(out, as_bytes(text));
  out.push_back('\n');
  return out;
}

namespace detail {

void multistream_reader::append(bytes_view in) {
  if (pos_ > 0) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
  buf_.insert(buf_.end(), in.begin(), in.end());
}

result<std::optional<std::string>> multistream_reader::next() {
  bytes_view rest = bytes_view(buf_).subspan(pos_);
  if (rest.empty()) return std::optional<std::string>{};
  // multistream_max_message (1024) needs at most 2 varint bytes.
  auto len = pb::read_varint(rest, 2);
  if (!len) {
    if (rest.size() < 2) return std::optional<std::string>{}; // prefix incomplete
    return error(errc::frame_too_large, "multistream: length prefix longer than 2 bytes (message over " +
                                            std::to_string(multistream_max_message) + " bytes)");
  }
  if (len->length == 2 && rest[1] == 0)
    return error(errc::bad_frame, "multistream: non-minimal varint length prefix");
  if (len->value == 0) return error(errc::bad_frame, "multistream: empty message (no trailing newline)");
  if (len->value > multistream_max_message)
    return error(errc::frame_too_large, "multistream: message of " + std::to_string(len->value) +
                                            " bytes exceeds " + std::to_string(multistream_max_message));
  const std::size_t total = len->length + static_cast<std::size_t>(len->value);
  if (rest.size() < total) return std::optional<std::string>{};
  bytes_view body = rest.subspan(len->length, static_cast<std::size_t>(len->value));
  if (body.back() != '\n') return error(errc::bad_frame, "multistream: message does not end with a newline");
  pos_ += total;
  return std::optional<std::string>(std::string(body.begin(), body.end() - 1));
}

bytes multistream_reader::take_rest() {
  bytes out(buf_.begin() + static_cast<std::ptrdiff_t>(pos_), buf_.end());
  buf_.clear();
  pos_ = 0;
  return out;
}

} // namespace detail

// ---- both sides ----

namespace detail {

result<void> multistream_side::fail(error e) {
  failure_ = std::move(e);
  state_ = state::failed;
  return failure_;
}

void multistream_side::select(const std::string& protocol) {
  selected_ = protocol;
  state_ = state::done;
}

result<void> multistream_side::on_data(bytes_view in) {
  if (state_ == state::failed) return failure_;
  if (state_ == state::done) {
    append(leftover_, in);
    return ok();
  }
  reader_.append(in);
  while (state_ != state::done) {
    auto msg = reader_.next();
    if (!msg) return fail(std::move(msg).err());
    if (!*msg) return ok();
    const std::string& text = **msg;
    if (state_ == state::await_header) {
      if (text != multistream_protocol_id)
        return fail(error(errc::bad_frame, who_ + ": expected header \"" + std::string(multistream_protocol_id) +
                                               "\", got " + quoted(text)));
      state_ = state::negotiating;
      continue;
    }
    if (auto r = on_message(text); !r) return fail(r.err());
  }
  append(leftover_, reader_.take_rest());
  return ok();
}

bytes multistream_side::take_output() { return std::exchange(output_, {}); }
bytes multistream_side::take_leftover() { return std::exchange(leftover_, {}); }

} // namespace detail

// ---- dialer ----

multistream_dialer::multistream_dialer(std::vector<std::string> protocols_to_try)
    : multistream_side("multistream dialer"), protocols_(std::move(protocols_to_try)) {
  if (protocols_.empty()) {
    (void) fail(error(errc::invalid_argument, "multistream dialer: no protocol to propose"));
    return;
  }
  if (protocols_.size() > multistream_max_proposals) {
    (void) fail(error(errc::invalid_argument, "multistream dialer: " + std::to_string(protocols_.size()) +
                                                  " protocols to try, at most " +
                                                  std::to_string(multistream_max_proposals)));
    return;
  }
  for (const auto& p : protocols_) {
    if (auto why = bad_protocol_name(p); !why.empty()) {
      (void) fail(error(errc::invalid_argument, "multistream dialer: " + why));
      return;
    }
  }
  append(output_, multistream_encode(multistream_protocol_id));
  append(output_, multistream_encode(protocols_[0]));
}

result<void> multistream_dialer::on_message(const std::string& text) {
  if (text == protocols_[current_]) {
    select(text);
    return ok();
  }
  if (text != na_message)
    return error(errc::bad_frame, "multistream dialer: proposed \"" + protocols_[current_] + "\", listener answered " +
                                      quoted(text));
  if (++current_ == protocols_.size())
    return error(errc::not_found, "multistream dialer: the listener supports none of the " +
                                      std::to_string(protocols_.size()) + " proposed protocols");
  append(output_, multistream_encode(protocols_[current_]));
  return ok();
}

// ---- listener ----

multistream_listener::multistream_listener(std::vector<std::string> supported)
    : multistream_side("multistream listener"), supported_(std::move(supported)) {
  for (const auto& p : supported_) {
    if (auto why = bad_protocol_name(p); !why.empty()) {
      (void) fail(error(errc::invalid_argument, "multistream listener: " + why));
      return;
    }
  }
  append(output_, multistream_encode(multistream_protocol_id));
}

result<void> multistream_listener::on_message(const std::string& text) {
  if (std::find(supported_.begin(), supported_.end(), text) != supported_.end()) {
    append(output_, multistream_encode(text));
    select(text);
    return ok();
  }
  if (++rejected_ > multistream_max_proposals)
    return error(errc::bad_frame, "multistream listener: more than " + std::to_string(multistream_max_proposals) +
                                      " rejected proposals");
  if (text == ls_message) {
    // js-libp2p's format: one message whose payload is every protocol as
    // its own length-prefixed "name\n", then a final "\n".
    bytes list;
    for (const auto& p : supported_) append(list, multistream_encode(p));
    list.push_back('\n');
    pb::put_varint(output_, list.size());
    append(output_, list);
  } else {
    append(output_, multistream_encode(na_message));
  }
  return ok();
}

} // namespace aqua::p2p
