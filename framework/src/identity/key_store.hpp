#pragma once
// Private: the on-disk layout of a node's data dir and its secret key file.
//
// Data dir resolution: --dir, else $AQUA_DIR, else ~/.aqua. The dir is
// created 0700; the secret key file is written 0600 and refused when it is
// readable or writable by group/others (as ssh does).

#include <filesystem>
#include <optional>
#include <string>

#include "identity/keypair.hpp"

namespace aqua {

namespace fs = std::filesystem;

inline constexpr const char* key_file_name = "identity.key";
inline constexpr const char* config_file_name = "config.yaml";

// Resolves the data dir from an explicit flag, AQUA_DIR, then HOME. An empty
// flag (--dir "") is invalid_argument, not a silent fall-back to ~/.aqua.
result<fs::path> resolve_data_dir(const std::optional<std::string>& flag);

// Creates `dir` (and parents) with mode 0700. An existing dir open to others
// is tightened to 0700 only if it is our user's, has no sticky bit and is
// empty or already an aqua data dir (key or config in it); any other is
// refused (insecure_permissions): `aqua --dir /tmp init` must not chmod /tmp.
result<void> ensure_private_dir(const fs::path& dir);

// Writes the seed as "aqua-ed25519-seed-v1 <hex>" with mode 0600.
// Refuses to replace an existing file unless `overwrite`.
result<void> write_key_file(const fs::path& file, const keypair& kp, bool overwrite);

// Loads and validates a key file: existence, permissions, format, length.
result<keypair> read_key_file(const fs::path& file);

// Writes `content` to `file` atomically (temp + rename) with `mode`.
result<void> write_file_atomic(const fs::path& file, const std::string& content, unsigned mode);

} // namespace aqua
