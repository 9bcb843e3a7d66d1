#include "p2p/mailbox_messages.hpp"

#include <limits>

#include "core/terminal_text.hpp"
#include "p2p/protobuf.hpp"

namespace aqua::p2p::mailbox {
namespace {

constexpr std::string_view where = "MailboxMessage";

error malformed(const std::string& why) { return error{errc::bad_frame, std::string(where) + ": " + why}; }

std::string wrong_wire(const pb::field& f) {
  return "field " + std::to_string(f.number) + " has wire type " + std::to_string(static_cast<int>(f.type));
}

result<mail_item> decode_mail(bytes_view in) {
  mail_item m;
  bool have_id = false, have_env = false, have_depositor = false;
  pb::reader r(in);
  pb::field f;
  while (r.next(f)) {
    if (f.number == 1) {
      if (f.type != pb::wire::varint) return malformed("Mail " + wrong_wire(f));
      if (have_id) return malformed("Mail.id occurs twice");
      have_id = true;
      m.id = f.value;
    } else if (f.number == 2) {
      if (f.type != pb::wire::len) return malformed("Mail " + wrong_wire(f));
      if (have_env) return malformed("Mail.envelope occurs twice");
      have_env = true;
      m.envelope.assign(f.data.begin(), f.data.end());
    } else if (f.number == 3) {
      if (f.type != pb::wire::len) return malformed("Mail " + wrong_wire(f));
      if (have_depositor) return malformed("Mail.depositor occurs twice");
      have_depositor = true;
      if (f.data.size() > max_depositor)
        return malformed("Mail.depositor of " + std::to_string(f.data.size()) + " bytes (at most " +
                         std::to_string(max_depositor) + ")");
      m.depositor.assign(f.data.begin(), f.data.end());
    }
  }
  if (r.failed()) return malformed("Mail: truncated or invalid field");
  if (m.id == 0) return malformed("Mail without an id");
  if (m.envelope.empty()) return malformed("Mail without an envelope");
  return m;
}

// ACK ids: packed (one len field of varints) or one varint field per id.
result<void> decode_ids(const pb::field& f, std::vector<std::uint64_t>& out) {
  if (f.type == pb::wire::varint) {
    out.push_back(f.value);
    return ok();
  }
  if (f.type != pb::wire::len) return malformed(wrong_wire(f));
  bytes_view rest = f.data;
  while (!rest.empty()) {
    auto v = pb::read_varint(rest);
    if (!v) return malformed("truncated packed ids");
    out.push_back(v->value);
    rest = rest.subspan(v->length);
    if (out.size() > max_ack_ids) return malformed("more than " + std::to_string(max_ack_ids) + " ids");
  }
  return ok();
}

result<void> check_rules(const message& m) {
  using k = message::kind;
  switch (m.type) {
    case k::deposit:
      if (m.recipient.empty()) return malformed("DEPOSIT without a recipient");
      if (m.envelope.empty()) return malformed("DEPOSIT without an envelope");
      return ok();
    case k::status:
      if (!m.status) return malformed("STATUS without a status");
      return ok();
    case k::mail:
      if (m.mail.empty() || m.mail.size() > max_mail_per_message)
        return malformed("MAIL with " + std::to_string(m.mail.size()) + " items (1.." +
                         std::to_string(max_mail_per_message) + ")");
      return ok();
    case k::ack:
      if (m.ids.empty() || m.ids.size() > max_ack_ids)
        return malformed("ACK with " + std::to_string(m.ids.size()) + " ids (1.." + std::to_string(max_ack_ids) + ")");
      for (auto id : m.ids)
        if (id == 0) return malformed("ACK of id 0");
      return ok();
    case k::fetch:
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
    case status::too_large: return "TOO_LARGE";
    case status::expired: return "EXPIRED";
    case status::bad_envelope: return "BAD_ENVELOPE";
    case status::malformed_message: return "MALFORMED_MESSAGE";
    case status::unexpected_message: return "UNEXPECTED_MESSAGE";
    case status::internal_error: return "INTERNAL_ERROR";
  }
  return "UNKNOWN(" + std::to_string(static_cast<std::uint32_t>(s)) + ")";
}

result<void> to_result(status s, std::string_view text) {
  if (s == status::ok) return ok();
  errc code = errc::connection_refused;
  switch (s) {
    case status::refused: code = errc::not_supported; break;
    case status::quota_exceeded: code = errc::quota_exceeded; break;
    case status::too_large: code = errc::frame_too_large; break;
    case status::expired: code = errc::message_expired; break;
    case status::bad_envelope: code = errc::bad_envelope; break;
    case status::malformed_message:
    case status::unexpected_message: code = errc::bad_frame; break;
    case status::internal_error: code = errc::io_error; break;
    default: break;
  }
  std::string msg = "mailbox: " + to_string(s);
  if (!text.empty()) msg += ": " + terminal_text(text);  // the relay's words: no raw control bytes into logs
  return error{code, msg};
}

std::string_view to_string(message::kind k) {
  switch (k) {
    case message::kind::deposit: return "DEPOSIT";
    case message::kind::status: return "STATUS";
    case message::kind::fetch: return "FETCH";
    case message::kind::mail: return "MAIL";
    case message::kind::ack: return "ACK";
  }
  return "UNKNOWN";
}

bytes encode(const message& m) {
  bytes out;
  pb::put_varint_field(out, 1, static_cast<std::uint32_t>(m.type));
  if (!m.recipient.empty()) pb::put_bytes_field(out, 2, m.recipient);
  if (!m.envelope.empty()) pb::put_bytes_field(out, 3, m.envelope);
  if (m.ttl_s) pb::put_varint_field(out, 4, *m.ttl_s);
  if (m.status) pb::put_varint_field(out, 5, static_cast<std::uint32_t>(*m.status));
  if (!m.text.empty()) pb::put_string_field(out, 6, m.text);
  for (const auto& item : m.mail) {
    bytes inner;
    pb::put_varint_field(inner, 1, item.id);
    if (!item.envelope.empty()) pb::put_bytes_field(inner, 2, item.envelope);
    if (!item.depositor.empty()) pb::put_bytes_field(inner, 3, item.depositor);
    pb::put_bytes_field(out, 7, inner);
  }
  if (!m.ids.empty()) {
    bytes packed;
    for (auto id : m.ids) pb::put_varint(packed, id);
    pb::put_bytes_field(out, 8, packed);
  }
  return out;
}

result<message> decode(bytes_view in) {
  if (in.size() > max_message_size)
    return error{errc::frame_too_large, std::string(where) + " of " + std::to_string(in.size()) +
                                            " bytes exceeds " + std::to_string(max_message_size)};
  message m;
  std::uint32_t seen = 0;  // bit n: singular field n seen
  auto once = [&](std::uint32_t n) {
    const bool dup = (seen >> n) & 1u;
    seen |= 1u << n;
    return !dup;
  };
  pb::reader r(in);
  pb::field f;
  while (r.next(f)) {
    const std::uint32_t n = f.number;
    if (n < 1 || n > 8) continue;  // unknown field
    if (n == 8) {
      if (auto d = decode_ids(f, m.ids); !d) return d.err();
      if (m.ids.size() > max_ack_ids) return malformed("more than " + std::to_string(max_ack_ids) + " ids");
      continue;
    }
    const bool scalar = n == 1 || n == 4 || n == 5;
    if (f.type != (scalar ? pb::wire::varint : pb::wire::len)) return malformed(wrong_wire(f));
    if (n != 7 && !once(n)) return malformed("field " + std::to_string(n) + " occurs twice");
    switch (n) {
      case 1:
        if (f.value > static_cast<std::uint32_t>(message::kind::ack))
          return malformed("unknown type " + std::to_string(f.value));
        m.type = static_cast<message::kind>(f.value);
        break;
      case 2: m.recipient.assign(f.data.begin(), f.data.end()); break;
      case 3: m.envelope.assign(f.data.begin(), f.data.end()); break;
      case 4:
        if (f.value > std::numeric_limits<std::uint32_t>::max()) return malformed("ttl_s exceeds uint32");
        m.ttl_s = static_cast<std::uint32_t>(f.value);
        break;
      case 5:
        if (f.value > std::numeric_limits<std::uint32_t>::max()) return malformed("status exceeds uint32");
        m.status = static_cast<status>(f.value);
        break;
      case 6:
        if (f.data.size() > max_status_text) return malformed("status text above " + std::to_string(max_status_text));
        m.text.assign(f.data.begin(), f.data.end());
        break;
      case 7: {
        if (m.mail.size() >= max_mail_per_message)
          return malformed("more than " + std::to_string(max_mail_per_message) + " mail items");
        auto item = decode_mail(f.data);
        if (!item) return item.err();
        m.mail.push_back(std::move(*item));
        break;
      }
      default: break;
    }
  }
  if (r.failed()) return malformed("truncated or invalid field");
  if (!((seen >> 1) & 1u)) return malformed("missing type (field 1)");
  if (auto c = check_rules(m); !c) return c.err();
  return m;
}

message deposit(bytes recipient, bytes envelope, std::uint32_t ttl_s) {
  message m;
  m.type = message::kind::deposit;
  m.recipient = std::move(recipient);
  m.envelope = std::move(envelope);
  m.ttl_s = ttl_s;
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

message fetch() {
  message m;
  m.type = message::kind::fetch;
  return m;
}

message mail(std::vector<mail_item> items) {
  message m;
  m.type = message::kind::mail;
  m.mail = std::move(items);
  return m;
}

message ack(std::vector<std::uint64_t> ids) {
  message m;
  m.type = message::kind::ack;
  m.ids = std::move(ids);
  return m;
}

result<bytes> frame(const message& m) {
  bytes body = encode(m);
  if (body.size() > max_message_size)
    return error{errc::frame_too_large, "mailbox message of " + std::to_string(body.size()) + " bytes exceeds " +
                                            std::to_string(max_message_size)};
  bytes out;
  out.reserve(body.size() + 4);
  pb::put_varint(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::size_t mail_item_overhead(std::size_t n, std::size_t depositor) {
  // field 7 tag + len varint + (field 1 tag + id varint <= 10) + (field 2 tag + len varint)
  // + (field 3 tag + len varint + depositor, when there is one)
  auto varint_len = [](std::uint64_t v) {
    std::size_t k = 1;
    while (v >= 0x80) v >>= 7, ++k;
    return k;
  };
  const std::size_t inner = 1 + 10 + 1 + varint_len(n) + n + (depositor ? 1 + varint_len(depositor) + depositor : 0);
  return 1 + varint_len(inner) + inner - n;
}

} // namespace aqua::p2p::mailbox
