#pragma once
// Private: a plugin file's ELF image checked before the dynamic loader maps
// it. glibc's dlopen maps each loadable segment of the file and trusts the
// program headers: a truncated .so (a copy cut short, a full disk during
// install) is mapped past its end, and touching that page kills the process
// with SIGBUS instead of failing the load. Only what the loader relies on is
// checked: the header, the program header table and every PT_LOAD segment
// lying inside the file.

#include <cstdint>
#include <string>

#include "aqua/error.hpp"

namespace aqua::detail {

// What is wrong with `image` (a whole file) as a 64-bit little-endian ELF
// shared object for the loader, or "" if nothing.
std::string elf_image_problem(const std::uint8_t* image, std::size_t size);

} // namespace aqua::detail
