#include "plugin/elf_check.hpp"

#include <elf.h>

#include <cstring>

namespace aqua::detail {

std::string elf_image_problem(const std::uint8_t* image, std::size_t size) {
  if (size < sizeof(Elf64_Ehdr) || std::memcmp(image, ELFMAG, SELFMAG) != 0) return "not an ELF file";
  Elf64_Ehdr eh;
  std::memcpy(&eh, image, sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return "not a 64-bit little-endian ELF file";
  if (eh.e_type != ET_DYN) return "not a shared library (ELF type " + std::to_string(eh.e_type) + ")";
  if (eh.e_phnum == 0 || eh.e_phentsize != sizeof(Elf64_Phdr)) return "no usable program header table";
  const std::uint64_t table_end = eh.e_phoff + std::uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (eh.e_phoff > size || table_end > size || table_end < eh.e_phoff)
    return "truncated: the program header table ends at byte " + std::to_string(table_end) + ", the file has " +
           std::to_string(size);
  bool loadable = false;
  for (std::uint16_t i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, image + eh.e_phoff + std::uint64_t{i} * sizeof(Elf64_Phdr), sizeof ph);
    if (ph.p_type != PT_LOAD && ph.p_type != PT_DYNAMIC) continue;
    loadable = loadable || ph.p_type == PT_LOAD;
    const std::uint64_t end = ph.p_offset + ph.p_filesz;
    if (end < ph.p_offset || end > size)
      return "truncated: segment " + std::to_string(i) + " needs the file up to byte " + std::to_string(end) +
             ", the file has " + std::to_string(size);
  }
  if (!loadable) return "no loadable segment";
  return {};
}

} // namespace aqua::detail
