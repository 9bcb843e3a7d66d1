#pragma once
// Errors as values. Every failure that crosses a component boundary is an
// aqua::error: a stable code (see to_string(errc)) plus a human message that
// names the context (file, key path, address, ...).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace aqua {

// The names returned by to_string() are stable: scripts and other
// implementations may match on them. Append new codes at the end.
enum class errc : std::uint16_t {
  bad_base58 = 1,
  wrong_multihash,
  wrong_key_type,
  wrong_key_length,
  bad_public_key_encoding,
  io_error,
  not_found,
  already_exists,
  insecure_permissions,
  bad_key_file,
  config_syntax,
  config_unknown_key,
  config_wrong_type,
  config_missing_field,
  config_bad_value,
  config_bad_address,
  plugin_not_found,
  plugin_abi_mismatch,
  plugin_missing_symbol,
  plugin_load_failed,
  plugin_name_mismatch,
  bad_address,
  address_in_use,
  connection_refused,
  connection_closed,
  would_block,
  frame_too_large,
  bad_frame,
  bad_signature,
  wrong_recipient,
  no_route,
  timeout,
  not_running,
  crypto_failure,
  invalid_argument,
  bad_card,
  card_expired,
  bad_card_signature,
  bad_envelope,
  unknown_version,
  unknown_session,
  replayed_message,
  reused_message_key,
  decrypt_failed,
  too_many_skipped,
  bad_session_state,
  prekey_unavailable,
  message_expired,
  sender_blocked,
  unknown_sender,
  store_corrupt,
  store_locked,
  not_supported,   // the transport/peer has no such capability (e.g. no mailbox)
  quota_exceeded,  // a mailbox or relay limit for this peer is reached
  peer_offline,    // the peer is not reachable live now (e.g. no relay reservation)
  no_identity,     // the data dir holds no identity key yet ('aqua init' makes one)
  config_unreadable,  // the config file is missing, unreadable or not a file
  conflict,           // the request is well formed but the current state refuses it (an alias naming another
                      // contact, verifying a blocked contact)
};

std::string_view to_string(errc code) noexcept;
// The inverse of to_string(errc), e.g. for errors that crossed the control API.
std::optional<errc> errc_from_string(std::string_view name) noexcept;

class error {
 public:
  error(errc code, std::string message) : code_(code), message_(std::move(message)) {}
  errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // "<code>: <message>", for logs and CLI output.
  std::string what() const;

 private:
  errc code_;
  std::string message_;
};

// Minimal expected<T, error> (std::expected is C++23).
template <class T>
class result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(error err) : v_(std::in_place_index<1>, std::move(err)) {}
  explicit operator bool() const noexcept { return v_.index() == 0; }
  bool has_value() const noexcept { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const error& err() const& { return std::get<1>(v_); }
  error&& err() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, error> v_;
};

template <>
class result<void> {
 public:
  result() = default;
  result(error err) : err_(std::move(err)), ok_(false) {}
  explicit operator bool() const noexcept { return ok_; }
  bool has_value() const noexcept { return ok_; }
  const error& err() const& { return err_; }

 private:
  error err_{errc::invalid_argument, {}};
  bool ok_ = true;
};

inline result<void> ok() { return {}; }

} // namespace aqua
