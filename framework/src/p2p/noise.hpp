#pragma once
// Private: libp2p /noise (Noise_XX_25519_ChaChaPoly_SHA256), sans-I/O.
// Specified in docs/protocol/noise.md.
//   noise_handshake  the three handshake messages, identity payloads (noise_handshake.hpp)
//   noise_transport  transport messages after the handshake (noise_transport.hpp)
//   noise_stream     both over a byte stream with 2-byte length prefixes (noise_stream.hpp)
// For message transports (ZeroMQ) use noise_handshake + noise_transport:
// one transport message per Noise message, no length prefix.

#include "p2p/noise_handshake.hpp"
#include "p2p/noise_stream.hpp"
#include "p2p/noise_transport.hpp"
