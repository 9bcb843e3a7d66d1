#include "e2ee/card.hpp"

#include <sodium.h>

#include <algorithm>

#include "aqua/multiaddr.hpp"

namespace aqua::e2ee {
namespace {

constexpr std::string_view signing_context = "aqua-card-v1";

error bad(const std::string& what, std::size_t at) {
  return error{errc::bad_card, what + " (at byte " + std::to_string(at) + ")"};
}

bool valid_capability(std::string_view s) {
  if (s.empty() || s.size() > max_card_capability_length) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/';
  });
}

} // namespace

result<void> check_card_fields(const std::vector<std::string>& addresses, const std::vector<std::string>& capabilities) {
  auto bad_arg = [](std::string m) { return error{errc::invalid_argument, std::move(m)}; };
  if (addresses.size() > max_card_addresses)
    return bad_arg("a card holds at most " + std::to_string(max_card_addresses) + " addresses, not " + std::to_string(addresses.size()));
  for (auto& a : addresses) {
    if (a.size() > max_card_address_length)
      return bad_arg("address '" + a.substr(0, 40) + "...' is longer than " + std::to_string(max_card_address_length) + " bytes");
    if (auto ma = multiaddr::parse(a); !ma) return bad_arg("card address: " + ma.err().message());
  }
  if (capabilities.size() > max_card_capabilities)
    return bad_arg("a card holds at most " + std::to_string(max_card_capabilities) + " capabilities, not " +
                   std::to_string(capabilities.size()));
  for (auto& cap : capabilities)
    if (!valid_capability(cap))
      return bad_arg("capability '" + (cap.size() > 80 ? cap.substr(0, 80) + "..." : cap) + "' is not 1 to " +
                     std::to_string(max_card_capability_length) + " characters of a-z 0-9 . _ / -");
  return ok();
}

bytes card_body(const contact_card& c) {
  bytes out;
  out.push_back(card_version);
  put_bytes(out, c.identity.raw());
  put_bytes(out, c.agreement_key);
  put_u32(out, c.signed_prekey_id);
  put_bytes(out, c.signed_prekey);
  put_u16(out, static_cast<std::uint16_t>(c.addresses.size()));
  for (auto& a : c.addresses) codec::put_str(out, a);
  put_u16(out, static_cast<std::uint16_t>(c.one_time_prekeys.size()));
  for (auto& k : c.one_time_prekeys) {
    put_u32(out, k.id);
    put_bytes(out, k.pub);
  }
  put_u16(out, static_cast<std::uint16_t>(c.capabilities.size()));
  for (auto& cap : c.capabilities) codec::put_str(out, cap);
  put_u64(out, static_cast<std::uint64_t>(c.created_ms));
  put_u64(out, static_cast<std::uint64_t>(c.expires_ms));
  return out;
}

bytes card_signing_input(const contact_card& c) {
  bytes out(signing_context.begin(), signing_context.end());
  put_bytes(out, card_body(c));
  return out;
}

bytes encode_card(const contact_card& c) {
  auto out = card_body(c);
  put_bytes(out, c.signature);
  return out;
}

result<contact_card> decode_card(bytes_view data) {
  reader r(data);
  contact_card c;
  std::uint8_t version = 0;
  if (!r.u8(version)) return bad("empty card", 0);
  if (version != card_version)
    return error{errc::unknown_version, "card version " + std::to_string(version) + " (this aqua reads version 1)"};
  key32 ik{};
  if (!r.key(ik)) return bad("truncated in identity key", r.pos());
  c.identity = public_key(ik);
  if (!r.key(c.agreement_key)) return bad("truncated in agreement key", r.pos());
  if (!r.u32(c.signed_prekey_id) || !r.key(c.signed_prekey)) return bad("truncated in signed prekey", r.pos());
  auto read_strings = [&](const char* what, std::size_t max_count, std::size_t max_len,
                          std::vector<std::string>& out) -> result<void> {
    std::uint16_t n = 0;
    if (!r.u16(n)) return bad(std::string("truncated in ") + what + " count", r.pos());
    if (n > max_count) return bad(std::string("too many ") + what + ": " + std::to_string(n) + " > " + std::to_string(max_count), r.pos());
    for (std::uint16_t i = 0; i < n; ++i) {
      std::uint16_t len = 0;
      bytes_view v;
      if (!r.u16(len)) return bad(std::string("truncated in ") + what, r.pos());
      if (len > max_len) return bad(std::string(what) + " longer than " + std::to_string(max_len), r.pos());
      if (!r.take(len, v)) return bad(std::string("truncated in ") + what, r.pos());
      out.emplace_back(v.begin(), v.end());
    }
    return ok();
  };
  if (auto e = read_strings("addresses", max_card_addresses, max_card_address_length, c.addresses); !e) return e.err();
  for (auto& a : c.addresses)
    if (auto ma = multiaddr::parse(a); !ma) return error{errc::bad_card, "card address: " + ma.err().message()};
  std::uint16_t n_otk = 0;
  if (!r.u16(n_otk)) return bad("truncated in one-time prekey count", r.pos());
  if (n_otk > max_card_one_time_prekeys) return bad("too many one-time prekeys: " + std::to_string(n_otk), r.pos());
  for (std::uint16_t i = 0; i < n_otk; ++i) {
    one_time_prekey k;
    if (!r.u32(k.id) || !r.key(k.pub)) return bad("truncated in one-time prekeys", r.pos());
    if (k.id == 0xffffffff) return bad("one-time prekey id 0xFFFFFFFF is reserved", r.pos());
    c.one_time_prekeys.push_back(k);
  }
  if (auto e = read_strings("capabilities", max_card_capabilities, max_card_capability_length, c.capabilities); !e)
    return e.err();
  for (auto& cap : c.capabilities)
    if (!valid_capability(cap)) return error{errc::bad_card, "capability '" + cap + "' is not [a-z0-9._/-]{1,64}"};
  std::uint64_t created = 0, expires = 0;
  if (!r.u64(created) || !r.u64(expires)) return bad("truncated in validity window", r.pos());
  if (created > static_cast<std::uint64_t>(INT64_MAX) || expires > static_cast<std::uint64_t>(INT64_MAX))
    return bad("timestamp out of range", r.pos());
  c.created_ms = static_cast<std::int64_t>(created);
  c.expires_ms = static_cast<std::int64_t>(expires);
  if (c.expires_ms <= c.created_ms) return error{errc::bad_card, "card expires before it is created"};
  bytes_view sig;
  if (!r.take(64, sig)) return bad("truncated in signature", r.pos());
  c.signature.assign(sig.begin(), sig.end());
  if (r.left() != 0) return bad(std::to_string(r.left()) + " trailing bytes after the signature", r.pos());
  return c;
}

result<contact_card> verify_card(bytes_view data, std::int64_t now_ms) {
  auto c = decode_card(data);
  if (!c) return c;
  if (!c->identity.verify(card_signing_input(*c), c->signature))
    return error{errc::bad_card_signature, "card signature does not verify for " + c->id().str() +
                                               " (tampered, or not signed by that identity)"};
  if (now_ms >= c->expires_ms)
    return error{errc::card_expired, "card of " + c->id().str() + " expired " +
                                         std::to_string((now_ms - c->expires_ms) / 1000) + " s ago; ask for a fresh one"};
  if (c->created_ms > now_ms + max_clock_skew_ms)
    return error{errc::bad_card, "card of " + c->id().str() + " is created " +
                                     std::to_string((c->created_ms - now_ms) / 1000) + " s in the future"};
  return c;
}

std::string card_to_text(const contact_card& c) {
  auto data = encode_card(c);
  std::string b64(sodium_base64_encoded_len(data.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(b64.data(), b64.size(), data.data(), data.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  b64.resize(b64.size() - 1);  // trailing NUL
  return std::string(card_text_prefix) + b64;
}

result<bytes> card_from_text(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  if (text.substr(0, card_text_prefix.size()) != card_text_prefix)
    return error{errc::bad_card, "card text must start with '" + std::string(card_text_prefix) + "'"};
  text.remove_prefix(card_text_prefix.size());
  if (text.size() > 64 * 1024) return error{errc::bad_card, "card text larger than 64 KiB"};
  if (text.empty()) return error{errc::bad_card, "card text is empty after '" + std::string(card_text_prefix) + "'"};
  bytes out(text.size());
  std::size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return error{errc::bad_card, "card text is not valid base64url"};
  out.resize(len);
  return out;
}

std::string safety_code(const public_key& a, const public_key& b) {
  const auto& lo = a < b ? a : b;
  const auto& hi = a < b ? b : a;
  bytes in(signing_context.begin(), signing_context.end());
  put_bytes(in, lo.raw());
  put_bytes(in, hi.raw());
  std::uint8_t h[crypto_hash_sha512_BYTES];
  crypto_hash_sha512(h, in.data(), in.size());
  std::string out;
  for (int g = 0; g < 12; ++g) {  // 12 groups of 5 digits, each from 5 hash bytes
    std::uint64_t v = 0;
    for (int i = 0; i < 5; ++i) v = (v << 8) | h[g * 5 + i];
    char buf[8];
    std::snprintf(buf, sizeof buf, "%05u", static_cast<unsigned>(v % 100000));
    if (g) out += (g % 4 == 0) ? " / " : " ";
    out += buf;
  }
  return out;
}

} // namespace aqua::e2ee
