#include "aqua/error.hpp"

namespace aqua {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::bad_base58: return "bad_base58";
    case errc::wrong_multihash: return "wrong_multihash";
    case errc::wrong_key_type: return "wrong_key_type";
    case errc::wrong_key_length: return "wrong_key_length";
    case errc::bad_public_key_encoding: return "bad_public_key_encoding";
    case errc::io_error: return "io_error";
    case errc::not_found: return "not_found";
    case errc::already_exists: return "already_exists";
    case errc::insecure_permissions: return "insecure_permissions";
    case errc::bad_key_file: return "bad_key_file";
    case errc::config_syntax: return "config_syntax";
    case errc::config_unknown_key: return "config_unknown_key";
    case errc::config_wrong_type: return "config_wrong_type";
    case errc::config_missing_field: return "config_missing_field";
    case errc::config_bad_value: return "config_bad_value";
    case errc::config_bad_address: return "config_bad_address";
    case errc::plugin_not_found: return "plugin_not_found";
    case errc::plugin_abi_mismatch: return "plugin_abi_mismatch";
    case errc::plugin_missing_symbol: return "plugin_missing_symbol";
    case errc::plugin_load_failed: return "plugin_load_failed";
    case errc::plugin_name_mismatch: return "plugin_name_mismatch";
    case errc::bad_address: return "bad_address";
    case errc::address_in_use: return "address_in_use";
    case errc::connection_refused: return "connection_refused";
    case errc::connection_closed: return "connection_closed";
    case errc::would_block: return "would_block";
    case errc::frame_too_large: return "frame_too_large";
    case errc::bad_frame: return "bad_frame";
    case errc::bad_signature: return "bad_signature";
    case errc::wrong_recipient: return "wrong_recipient";
    case errc::no_route: return "no_route";
    case errc::timeout: return "timeout";
    case errc::not_running: return "not_running";
    case errc::crypto_failure: return "crypto_failure";
    case errc::invalid_argument: return "invalid_argument";
    case errc::bad_card: return "bad_card";
    case errc::card_expired: return "card_expired";
    case errc::bad_card_signature: return "bad_card_signature";
    case errc::bad_envelope: return "bad_envelope";
    case errc::unknown_version: return "unknown_version";
    case errc::unknown_session: return "unknown_session";
    case errc::replayed_message: return "replayed_message";
    case errc::reused_message_key: return "reused_message_key";
    case errc::decrypt_failed: return "decrypt_failed";
    case errc::too_many_skipped: return "too_many_skipped";
    case errc::bad_session_state: return "bad_session_state";
    case errc::prekey_unavailable: return "prekey_unavailable";
    case errc::message_expired: return "message_expired";
    case errc::sender_blocked: return "sender_blocked";
    case errc::unknown_sender: return "unknown_sender";
    case errc::store_corrupt: return "store_corrupt";
    case errc::store_locked: return "store_locked";
    case errc::not_supported: return "not_supported";
    case errc::quota_exceeded: return "quota_exceeded";
    case errc::peer_offline: return "peer_offline";
    case errc::no_identity: return "no_identity";
    case errc::config_unreadable: return "config_unreadable";
    case errc::conflict: return "conflict";
  }
  return "unknown_error";
}

std::optional<errc> errc_from_string(std::string_view name) noexcept {
  for (int c = 1; c < 4096; ++c) {
    auto s = to_string(static_cast<errc>(c));
    if (s == "unknown_error") break;  // codes are dense from 1
    if (s == name) return static_cast<errc>(c);
  }
  return std::nullopt;
}

std::string error::what() const {
  std::string out(to_string(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

} // namespace aqua

#include <sodium.h>

#include <stdexcept>

#include "core/sodium.hpp"

namespace aqua::detail {
void ensure_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) throw std::runtime_error("libsodium failed to initialise");
}
} // namespace aqua::detail
