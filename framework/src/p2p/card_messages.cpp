#include "p2p/card_messages.hpp"

#include <limits>

#include "core/terminal_text.hpp"
#include "p2p/protobuf.hpp"
#include "p2p/relay_messages.hpp"

namespace aqua::p2p::cards {
namespace {

error malformed(const std::string& why) { return error{errc::bad_frame, "CardMessage: " + why}; }

result<void> check_rules(const message& m) {
  using k = message::kind;
  switch (m.type) {
    case k::publish:
    case k::card:
      if (m.card.empty()) return malformed(std::string(to_string(m.type)) + " without a card");
      return ok();
    case k::lookup:
      if (m.peer.empty()) return malformed("LOOKUP without a peer");
      return ok();
    case k::status:
      if (!m.status) return malformed("STATUS without a status");
      return ok();
  }
  return malformed("unknown type");
}

} // namespace

std::string to_string(status s) {
  switch (s) {
    case status::unused: return "UNUSED";
    case status::ok: return "OK";
    case status::refused: return "REFUSED";
    case status::quota_exceeded: return "QUOTA_EXCEEDED";
    case status::not_found: return "NOT_FOUND";
    case status::bad_card: return "BAD_CARD";
    case status::stale_card: return "STALE_CARD";
    case status::malformed_message: return "MALFORMED_MESSAGE";
    case status::unexpected_message: return "UNEXPECTED_MESSAGE";
    case status::internal_error: return "INTERNAL_ERROR";
  }
  return "UNKNOWN(" + std::to_string(static_cast<std::uint32_t>(s)) + ")";
}

error to_error(status s, std::string_view text) {
  errc code = errc::connection_refused;
  switch (s) {
    case status::refused: code = errc::not_supported; break;
    case status::quota_exceeded: code = errc::quota_exceeded; break;
    case status::not_found: code = errc::not_found; break;
    case status::bad_card: code = errc::bad_card; break;
    case status::stale_card: code = errc::conflict; break;
    case status::malformed_message:
    case status::unexpected_message: code = errc::bad_frame; break;
    case status::internal_error: code = errc::io_error; break;
    default: break;
  }
  std::string msg = "card directory: " + to_string(s);
  if (!text.empty()) msg += ": " + terminal_text(text);  // the relay's words: no raw control bytes into logs
  return error{code, msg};
}

std::string_view to_string(message::kind k) {
  switch (k) {
    case message::kind::publish: return "PUBLISH";
    case message::kind::lookup: return "LOOKUP";
    case message::kind::card: return "CARD";
    case message::kind::status: return "STATUS";
  }
  return "UNKNOWN";
}

bytes encode(const message& m) {
  bytes out;
  pb::put_varint_field(out, 1, static_cast<std::uint32_t>(m.type));
  if (!m.card.empty()) pb::put_bytes_field(out, 2, m.card);
  if (!m.peer.empty()) pb::put_bytes_field(out, 3, m.peer);
  if (m.status) pb::put_varint_field(out, 4, static_cast<std::uint32_t>(*m.status));
  if (!m.text.empty()) pb::put_string_field(out, 5, m.text);
  return out;
}

result<message> decode(bytes_view in) {
  if (in.size() > max_message_size)
    return error{errc::frame_too_large,
                 "CardMessage of " + std::to_string(in.size()) + " bytes exceeds " + std::to_string(max_message_size)};
  message m;
  std::uint32_t seen = 0;  // bit n: field n seen
  pb::reader r(in);
  pb::field f;
  while (r.next(f)) {
    const std::uint32_t n = f.number;
    if (n < 1 || n > 5) continue;  // unknown field
    const bool scalar = n == 1 || n == 4;
    if (f.type != (scalar ? pb::wire::varint : pb::wire::len))
      return malformed("field " + std::to_string(n) + " has wire type " + std::to_string(static_cast<int>(f.type)));
    if ((seen >> n) & 1u) return malformed("field " + std::to_string(n) + " occurs twice");
    seen |= 1u << n;
    switch (n) {
      case 1:
        if (f.value > static_cast<std::uint32_t>(message::kind::status))
          return malformed("unknown type " + std::to_string(f.value));
        m.type = static_cast<message::kind>(f.value);
        break;
      case 2:
        if (f.data.size() > max_card_size)
          return malformed("card of " + std::to_string(f.data.size()) + " bytes (at most " +
                           std::to_string(max_card_size) + ")");
        m.card.assign(f.data.begin(), f.data.end());
        break;
      case 3:
        if (f.data.size() > max_peer_size)
          return malformed("peer of " + std::to_string(f.data.size()) + " bytes (at most " +
                           std::to_string(max_peer_size) + ")");
        m.peer.assign(f.data.begin(), f.data.end());
        break;
      case 4:
        if (f.value > std::numeric_limits<std::uint32_t>::max()) return malformed("status exceeds uint32");
        m.status = static_cast<status>(f.value);
        break;
      case 5:
        if (f.data.size() > max_status_text) return malformed("status text above " + std::to_string(max_status_text));
        m.text.assign(f.data.begin(), f.data.end());
        break;
      default: break;
    }
  }
  if (r.failed()) return malformed("truncated or invalid field");
  if (!((seen >> 1) & 1u)) return malformed("missing type (field 1)");
  if (auto c = check_rules(m); !c) return c.err();
  return m;
}

message publish(bytes card) {
  message m;
  m.type = message::kind::publish;
  m.card = std::move(card);
  return m;
}

message lookup(bytes peer) {
  message m;
  m.type = message::kind::lookup;
  m.peer = std::move(peer);
  return m;
}

message card_message(bytes card) {
  message m;
  m.type = message::kind::card;
  m.card = std::move(card);
  return m;
}

message status_message(status s, std::string text) {
  message m;
  m.type = message::kind::status;
  m.status = s;
  if (text.size() > max_status_text) text.resize(max_status_text);
  m.text = std::move(text);
  return m;
}

result<bytes> frame(const message& m) { return relay::frame(encode(m), max_message_size); }

} // namespace aqua::p2p::cards
