#include "p2p/identify.hpp"

#include "p2p/noise_handshake.hpp"
#include "p2p/protobuf.hpp"

namespace aqua::p2p {
namespace {

error bad(std::string what) { return error{errc::bad_frame, "identify: " + std::move(what)}; }

} // namespace

bytes encode_identify(const identify_info& m) {
  bytes out;
  if (!m.public_key.empty()) pb::put_bytes_field(out, 1, m.public_key);
  for (const auto& a : m.listen_addrs) pb::put_bytes_field(out, 2, a);
  for (const auto& p : m.protocols) pb::put_string_field(out, 3, p);
  if (!m.observed_addr.empty()) pb::put_bytes_field(out, 4, m.observed_addr);
  if (m.protocol_version) pb::put_string_field(out, 5, *m.protocol_version);
  if (m.agent_version) pb::put_string_field(out, 6, *m.agent_version);
  if (!m.signed_peer_record.empty()) pb::put_bytes_field(out, 8, m.signed_peer_record);
  return out;
}

result<identify_info> decode_identify(bytes_view in) {
  if (in.size() > identify_max_message)
    return error{errc::frame_too_large, "identify: message of " + std::to_string(in.size()) + " bytes exceeds " +
                                            std::to_string(identify_max_message)};
  identify_info m;
  pb::reader r(in);
  pb::field f;
  while (r.next(f)) {
    const bool known = f.number <= 6 || f.number == 8;
    if (!known) continue;
    if (f.type != pb::wire::len) return bad("field " + std::to_string(f.number) + " has the wrong wire type");
    std::string text(f.data.begin(), f.data.end());
    switch (f.number) {
      case 1: m.public_key.assign(f.data.begin(), f.data.end()); break;
      case 2:
        if (m.listen_addrs.size() < identify_max_entries) m.listen_addrs.emplace_back(f.data.begin(), f.data.end());
        break;
      case 3:
        if (m.protocols.size() < identify_max_entries) m.protocols.push_back(std::move(text));
        break;
      case 4: m.observed_addr.assign(f.data.begin(), f.data.end()); break;
      case 5: m.protocol_version = std::move(text); break;
      case 6: m.agent_version = std::move(text); break;
      case 8: m.signed_peer_record.assign(f.data.begin(), f.data.end()); break;
      default: break;
    }
  }
  if (r.failed()) return bad("malformed protobuf");
  return m;
}

result<peer_id> identify_peer(const identify_info& m) {
  if (m.public_key.empty()) return bad("no public key");
  auto k = decode_libp2p_public_key(m.public_key);
  if (!k) return k.err();
  return peer_id::from_public_key(*k);
}

} // namespace aqua::p2p
