#pragma once
// Private: libsodium must be initialised once before any primitive is used.
namespace aqua::detail {
void ensure_sodium();
} // namespace aqua::detail
