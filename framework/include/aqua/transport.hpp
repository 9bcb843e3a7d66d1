#pragma once
// The transport plugin interface (ABI version `transport_abi_version`).
//
// A transport moves opaque frames between nodes. It knows nothing about
// identities or encryption: every frame it carries is already an aqua
// envelope. Semantics every transport must provide:
//   * per-connection FIFO ordering, frames delivered whole;
//   * bounded buffering: send() returns errc::would_block when the peer's
//     queue is full, and the observer's on_writable() fires once there is
//     room again (no unbounded memory growth);
//   * close() is seen by the other side as on_closed(); frames sent before
//     the close remain readable via try_receive().
// Observer callbacks may run on any thread (including inside send()/close()
// of the other side) and must not block or call back into the transport.
//
// Bump transport_abi_version whenever anything in this header changes
// layout or meaning; the loader refuses plugins built against another one.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aqua/bytes.hpp"
#include "aqua/config.hpp"
#include "aqua/error.hpp"

namespace aqua {

inline constexpr std::uint32_t transport_abi_version = 1;

class connection_observer {
 public:
  virtual ~connection_observer() = default;
  virtual void on_readable() = 0;
  virtual void on_writable() = 0;
  virtual void on_closed(const error& reason) = 0;
};

class connection {
 public:
  virtual ~connection() = default;
  virtual std::string local_address() const = 0;
  virtual std::string remote_address() const = 0;
  // Set once, before frames are expected; frames already queued trigger on_readable().
  virtual void set_observer(std::shared_ptr<connection_observer> observer) = 0;
  // Copies the frame into the transport. errc::would_block (retry after
  // on_writable), connection_closed, frame_too_large.
  virtual result<void> send(bytes_view frame) = 0;
  virtual std::optional<bytes> try_receive() = 0;
  virtual void close() = 0;
  virtual bool is_open() const = 0;
};

class transport_observer {
 public:
  virtual ~transport_observer() = default;
  virtual void on_incoming(std::shared_ptr<connection> conn) = 0;
};

class transport {
 public:
  virtual ~transport() = default;
  virtual std::string plugin_name() const = 0;
  // Must be called once before listen(); incoming connections go to `observer`.
  virtual void start(std::shared_ptr<transport_observer> observer) = 0;
  // Returns the address actually bound (e.g. with a chosen port).
  virtual result<std::string> listen(const std::string& address) = 0;
  virtual result<std::shared_ptr<connection>> dial(const std::string& address) = 0;
  virtual std::vector<std::string> listen_addresses() const = 0;
  // Closes listeners and every connection; idempotent.
  virtual void stop() = 0;
};

// For plugin factories: `value` of setting `key` as an integer in [min, max],
// or errc::config_bad_value naming the setting.
result<std::uint64_t> parse_setting(const std::string& key, const std::string& value, std::uint64_t min,
                                    std::uint64_t max);

// Signature of the factory every transport plugin exports.
using transport_factory_fn = result<std::unique_ptr<transport>>(const transport_config&);

} // namespace aqua
