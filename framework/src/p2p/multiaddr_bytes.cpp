#include "p2p/multiaddr_bytes.hpp"

#include <arpa/inet.h>
#include <sodium.h>

#include <charconv>
#include <optional>

#include "core/sodium.hpp"
#include "p2p/protobuf.hpp"

namespace aqua::p2p {
namespace {

// How a value is written in text. `none`: the protocol is known (so binary
// decoding can step over it) but has no text conversion here.
enum class text_form : std::uint8_t { empty, ipv4, ipv6, port, u8, name, multihash_b58, multibase, none };

constexpr int var_size = -1;

struct proto_info {
  std::uint32_t code;
  std::string_view name;
  int size;  // value bytes, or var_size for uvarint length || bytes
  text_form text;
};

constexpr proto_info protocols[] = {
    {ma_code::ip4, "ip4", 4, text_form::ipv4},
    {ma_code::tcp, "tcp", 2, text_form::port},
    {ma_code::dccp, "dccp", 2, text_form::port},
    {ma_code::ip6, "ip6", 16, text_form::ipv6},
    {ma_code::ip6zone, "ip6zone", var_size, text_form::name},
    {ma_code::ipcidr, "ipcidr", 1, text_form::u8},
    {ma_code::dns, "dns", var_size, text_form::name},
    {ma_code::dns4, "dns4", var_size, text_form::name},
    {ma_code::dns6, "dns6", var_size, text_form::name},
    {ma_code::dnsaddr, "dnsaddr", var_size, text_form::name},
    {ma_code::sctp, "sctp", 2, text_form::port},
    {ma_code::udp, "udp", 2, text_form::port},
    {ma_code::webrtc_direct, "webrtc-direct", 0, text_form::empty},
    {ma_code::webrtc, "webrtc", 0, text_form::empty},
    {ma_code::p2p_circuit, "p2p-circuit", 0, text_form::empty},
    {ma_code::udt, "udt", 0, text_form::empty},
    {ma_code::utp, "utp", 0, text_form::empty},
    {ma_code::unix_path, "unix", var_size, text_form::none},
    {ma_code::p2p, "p2p", var_size, text_form::multihash_b58},
    {ma_code::https, "https", 0, text_form::empty},
    {ma_code::onion, "onion", 12, text_form::none},
    {ma_code::onion3, "onion3", 37, text_form::none},
    {ma_code::garlic64, "garlic64", var_size, text_form::none},
    {ma_code::garlic32, "garlic32", var_size, text_form::none},
    {ma_code::tls, "tls", 0, text_form::empty},
    {ma_code::sni, "sni", var_size, text_form::name},
    {ma_code::noise, "noise", 0, text_form::empty},
    {ma_code::quic, "quic", 0, text_form::empty},
    {ma_code::quic_v1, "quic-v1", 0, text_form::empty},
    {ma_code::webtransport, "webtransport", 0, text_form::empty},
    {ma_code::certhash, "certhash", var_size, text_form::multibase},
    {ma_code::ws, "ws", 0, text_form::empty},
    {ma_code::wss, "wss", 0, text_form::empty},
    {ma_code::http, "http", 0, text_form::empty},
    {ma_code::http_path, "http-path", var_size, text_form::none},
    {ma_code::memory, "memory", var_size, text_form::name},
};

const proto_info* by_code(std::uint64_t code) {
  for (auto& p : protocols)
    if (p.code == code) return &p;
  return nullptr;
}

const proto_info* by_name(std::string_view name) {
  if (name == "ipfs") name = "p2p";
  for (auto& p : protocols)
    if (p.name == name) return &p;
  return nullptr;
}

error bad(std::string msg) { return error{errc::bad_address, std::move(msg)}; }

// unsigned-varint (multiformats) demands the minimal encoding; go-varint
// rejects the others, and so do we (it keeps decode/encode byte-exact).
std::optional<pb::varint_result> read_uvarint(bytes_view in, std::size_t max_bytes = 9) {
  auto v = pb::read_varint(in, max_bytes);
  if (v && v->length > 1 && in[v->length - 1] == 0) return std::nullopt;
  return v;
}

// A multihash: uvarint code || uvarint digest length || digest, exactly.
bool valid_multihash(bytes_view v) {
  auto code = pb::read_varint(v);
  if (!code) return false;
  auto len = pb::read_varint(v.subspan(code->length));
  if (!len) return false;
  return len->value == v.size() - code->length - len->length;
}

// Checks a decoded value; empty string = fine.
std::string check_value(const proto_info& p, bytes_view v) {
  if (p.size == var_size && v.empty()) return "empty value";
  if (p.text == text_form::name)
    for (auto c : v)
      if (c == '/') return "value contains '/'";
  if ((p.text == text_form::multihash_b58 || p.text == text_form::multibase) && !valid_multihash(v))
    return "value is not a multihash";
  return {};
}

std::string describe(const proto_info& p) { return "/" + std::string(p.name) + " (code " + std::to_string(p.code) + ")"; }

result<std::string> value_to_text(const proto_info& p, bytes_view v) {
  switch (p.text) {
    case text_form::empty: return std::string();
    case text_form::ipv4:
    case text_form::ipv6: {
      char buf[INET6_ADDRSTRLEN] = {};
      if (!inet_ntop(p.text == text_form::ipv4 ? AF_INET : AF_INET6, v.data(), buf, sizeof buf))
        return bad(describe(p) + ": cannot format address");
      return std::string(buf);
    }
    case text_form::port: return std::to_string((unsigned{v[0]} << 8) | v[1]);
    case text_form::u8: return std::to_string(unsigned{v[0]});
    case text_form::name: return std::string(v.begin(), v.end());
    case text_form::multihash_b58: return base58_encode(v);
    case text_form::multibase: {
      detail::ensure_sodium();
      const auto variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
      std::string out(sodium_base64_encoded_len(v.size(), variant), '\0');
      sodium_bin2base64(out.data(), out.size(), v.data(), v.size(), variant);
      out.resize(std::char_traits<char>::length(out.c_str()));
      return "u" + out;
    }
    case text_form::none: break;
  }
  return bad(describe(p) + " has no text form in aqua (binary only)");
}

result<bytes> value_from_text(const proto_info& p, std::string_view t) {
  auto fail = [&](const std::string& why) { return bad(describe(p) + " '" + std::string(t) + "': " + why); };
  bytes v;
  switch (p.text) {
    case text_form::empty: return v;
    case text_form::ipv4:
    case text_form::ipv6: {
      v.resize(static_cast<std::size_t>(p.size));
      std::string s(t);
      if (inet_pton(p.text == text_form::ipv4 ? AF_INET : AF_INET6, s.c_str(), v.data()) != 1)
        return fail(p.text == text_form::ipv4 ? "not an IPv4 address" : "not an IPv6 address");
      return v;
    }
    case text_form::port:
    case text_form::u8: {
      unsigned n = 0;
      const unsigned max = p.text == text_form::port ? 65535 : 255;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
      if (t.empty() || ec != std::errc{} || end != t.data() + t.size() || n > max)
        return fail("must be a number 0.." + std::to_string(max));
      if (p.text == text_form::port) v.push_back(static_cast<std::uint8_t>(n >> 8));
      v.push_back(static_cast<std::uint8_t>(n));
      return v;
    }
    case text_form::name: v.assign(t.begin(), t.end()); break;
    case text_form::multihash_b58: {
      auto d = base58_decode(t);
      if (!d) return fail("not base58btc: " + d.err().message());
      v = std::move(*d);
      break;
    }
    case text_form::multibase: {
      if (t.empty() || (t[0] != 'u' && t[0] != 'z')) return fail("only multibase 'u' (base64url) and 'z' (base58btc)");
      if (t[0] == 'z') {
        auto d = base58_decode(t.substr(1));
        if (!d) return fail("not base58btc: " + d.err().message());
        v = std::move(*d);
        break;
      }
      detail::ensure_sodium();
      v.resize(t.size());
      std::size_t n = 0;
      if (sodium_base642bin(v.data(), v.size(), t.data() + 1, t.size() - 1, nullptr, &n, nullptr,
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return fail("not base64url");
      v.resize(n);
      break;
    }
    case text_form::none: return fail("no text form in aqua (binary only)");
  }
  if (auto why = check_value(p, v); !why.empty()) return fail(why);
  return v;
}

} // namespace

std::string_view ma_protocol_name(std::uint32_t code) {
  auto* p = by_code(code);
  return p ? p->name : std::string_view{};
}

result<std::vector<ma_component>> decode_multiaddr(bytes_view in) {
  if (in.empty()) return bad("empty binary multiaddr");
  if (in.size() > max_multiaddr_bytes)
    return bad("binary multiaddr of " + std::to_string(in.size()) + " bytes exceeds " +
               std::to_string(max_multiaddr_bytes));
  std::vector<ma_component> out;
  std::size_t pos = 0;
  while (pos < in.size()) {
    const std::size_t at = pos;
    auto code = read_uvarint(in.subspan(pos), 4);
    if (!code)
      return bad("binary multiaddr: truncated, overlong or non-minimal protocol code at byte " + std::to_string(at));
    pos += code->length;
    auto* p = by_code(code->value);
    if (!p)
      return bad("binary multiaddr: unknown protocol code " + std::to_string(code->value) + " at byte " +
                 std::to_string(at));
    std::size_t n = static_cast<std::size_t>(p->size);
    if (p->size == var_size) {
      auto len = read_uvarint(in.subspan(pos));
      if (!len)
        return bad("binary multiaddr: " + describe(*p) + " at byte " + std::to_string(at) +
                   ": truncated or non-minimal length");
      pos += len->length;
      if (len->value > in.size() - pos)
        return bad("binary multiaddr: " + describe(*p) + " at byte " + std::to_string(at) + ": value of " +
                   std::to_string(len->value) + " bytes, " + std::to_string(in.size() - pos) + " left");
      n = static_cast<std::size_t>(len->value);
    } else if (n > in.size() - pos) {
      return bad("binary multiaddr: " + describe(*p) + " at byte " + std::to_string(at) + ": needs " +
                 std::to_string(n) + " value bytes, " + std::to_string(in.size() - pos) + " left");
    }
    ma_component c{p->code, bytes(in.begin() + static_cast<std::ptrdiff_t>(pos),
                                  in.begin() + static_cast<std::ptrdiff_t>(pos + n))};
    if (auto why = check_value(*p, c.value); !why.empty())
      return bad("binary multiaddr: " + describe(*p) + " at byte " + std::to_string(at) + ": " + why);
    pos += n;
    out.push_back(std::move(c));
  }
  return out;
}

bytes encode_multiaddr(const std::vector<ma_component>& parts) {
  bytes out;
  for (auto& c : parts) {
    pb::put_varint(out, c.code);
    auto* p = by_code(c.code);
    if (!p || p->size == var_size) pb::put_varint(out, c.value.size());
    out.insert(out.end(), c.value.begin(), c.value.end());
  }
  return out;
}

result<bytes> multiaddr_from_text(std::string_view text) {
  if (text.empty() || text.front() != '/') return bad("multiaddr '" + std::string(text) + "' must start with '/'");
  // Text is at most ~7 characters per binary byte (/webrtc-direct is 14 for 2).
  if (text.size() > 8 * max_multiaddr_bytes) return bad("multiaddr text too long");
  if (text.size() > 1 && text.back() == '/') text.remove_suffix(1);  // go-multiaddr accepts one trailing '/'
  std::vector<ma_component> parts;
  std::size_t pos = 1;
  auto next = [&]() -> std::string_view {
    auto end = text.find('/', pos);
    if (end == std::string_view::npos) end = text.size();
    auto tok = text.substr(pos, end - pos);
    pos = end + 1;
    return tok;
  };
  while (pos <= text.size()) {
    auto name = next();
    auto* p = by_name(name);
    if (!p) return bad("multiaddr '" + std::string(text) + "': unknown protocol '" + std::string(name) + "'");
    std::string_view value;
    if (p->size != 0) {
      if (pos > text.size()) return bad("multiaddr '" + std::string(text) + "': " + describe(*p) + " needs a value");
      value = next();
    }
    auto v = value_from_text(*p, value);
    if (!v) return v.err();
    parts.push_back({p->code, std::move(*v)});
  }
  auto out = encode_multiaddr(parts);
  if (out.size() > max_multiaddr_bytes) return bad("multiaddr '" + std::string(text) + "' is too long in binary");
  return out;
}

result<std::string> multiaddr_to_text(bytes_view in) {
  auto parts = decode_multiaddr(in);
  if (!parts) return parts.err();
  std::string out;
  for (auto& c : *parts) {
    auto* p = by_code(c.code);
    out += '/';
    out += p->name;
    auto v = value_to_text(*p, c.value);
    if (!v) return v.err();
    if (p->size != 0) out += '/' + *v;
  }
  return out;
}

result<bytes> multiaddr_to_bytes(const multiaddr& addr) { return multiaddr_from_text(addr.str()); }

result<multiaddr> multiaddr_from_bytes(bytes_view in) {
  auto text = multiaddr_to_text(in);
  if (!text) return text.err();
  return multiaddr::parse(*text);
}

} // namespace aqua::p2p
