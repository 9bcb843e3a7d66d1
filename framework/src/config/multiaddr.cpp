#include "aqua/multiaddr.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>

#include "aqua/identity.hpp"

namespace aqua {
namespace {

constexpr std::size_t max_multiaddr_length = 1024;

bool valid_name(std::string_view v) {
  if (v.empty() || v.size() > 253) return false;
  for (char c : v)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) return false;
  return true;
}

result<void> check_value(const std::string& proto, const std::string& v, std::string_view text) {
  auto bad = [&](const std::string& why) {
    return error{errc::bad_address, "address '" + std::string(text) + "': /" + proto + "/" + v + ": " + why};
  };
  if (proto == "ip4") {
    in_addr a{};
    if (inet_pton(AF_INET, v.c_str(), &a) != 1) return bad("not an IPv4 address");
  } else if (proto == "ip6") {
    in6_addr a{};
    if (inet_pton(AF_INET6, v.c_str(), &a) != 1) return bad("not an IPv6 address");
  } else if (proto == "tcp" || proto == "udp") {
    unsigned port = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), port);
    if (ec != std::errc{} || p != v.data() + v.size() || port > 65535) return bad("port must be 0..65535");
  } else if (proto == "p2p") {
    auto id = peer_id::parse(v);
    if (!id) return bad(id.err().message());
  } else if (proto == "dns" || proto == "dns4" || proto == "dns6" || proto == "memory") {
    if (!valid_name(v)) return bad("name must be 1..253 characters of [A-Za-z0-9._-]");
  }
  return ok();
}

bool takes_value(const std::string& proto) { return proto != "p2p-circuit" && proto != "quic-v1"; }

bool known(const std::string& proto) {
  static const char* names[] = {"ip4", "ip6", "dns", "dns4", "dns6", "tcp", "udp", "p2p", "p2p-circuit", "memory"};
  for (auto* n : names)
    if (proto == n) return true;
  return false;
}

} // namespace

result<multiaddr> multiaddr::parse(std::string_view text) {
  if (text.empty()) return error{errc::bad_address, "empty address"};
  if (text.size() > max_multiaddr_length)
    return error{errc::bad_address, "address longer than " + std::to_string(max_multiaddr_length) + " characters"};
  if (text.front() != '/')
    return error{errc::bad_address, "address '" + std::string(text) + "' must start with '/' (e.g. /ip4/127.0.0.1/tcp/4001)"};
  multiaddr out;
  out.text_ = std::string(text);
  std::size_t pos = 1;
  auto next = [&]() -> std::string {
    auto end = text.find('/', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string tok(text.substr(pos, end - pos));
    pos = end + 1;
    return tok;
  };
  while (pos <= text.size()) {
    std::string proto = next();
    if (proto.empty()) return error{errc::bad_address, "address '" + std::string(text) + "' has an empty component"};
    if (!known(proto)) return error{errc::bad_address, "address '" + std::string(text) + "': unknown protocol '" + proto + "'"};
    multiaddr_part part{proto, {}};
    if (takes_value(proto)) {
      if (pos > text.size())
        return error{errc::bad_address, "address '" + std::string(text) + "': /" + proto + " needs a value"};
      part.value = next();
      if (auto r = check_value(proto, part.value, text); !r) return r.err();
    }
    out.parts_.push_back(std::move(part));
  }
  return out;
}

std::string multiaddr::value_of(std::string_view protocol) const {
  for (auto& p : parts_)
    if (p.protocol == protocol) return p.value;
  return {};
}

bool multiaddr::has(std::string_view protocol) const {
  for (auto& p : parts_)
    if (p.protocol == protocol) return true;
  return false;
}

} // namespace aqua
