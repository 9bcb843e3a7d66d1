#pragma once
#include "actors/protocol.hpp"
#include "identity/keypair.hpp"

namespace aqua::actors {
// Moved into the identity actor at spawn; nobody else keeps a copy.
struct keypair_holder {
  keypair kp;
};
} // namespace aqua::actors
