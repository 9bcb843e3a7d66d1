#include "identity/key_store.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace aqua {
namespace {

constexpr std::string_view key_header = "aqua-ed25519-seed-v1";
constexpr std::size_t max_key_file_size = 4096;

error io_error(const std::string& what, const fs::path& p) {
  return error{errc::io_error, what + " '" + p.string() + "': " + std::strerror(errno)};
}

std::string mode_string(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

} // namespace

namespace {

// The data dir as chosen (`from` says by what, for the message): a path that exists and is no directory (a file
// given by mistake) is refused here, before any command reads "<file>/identity.key" and reports ENOTDIR.
result<fs::path> data_dir_from(fs::path dir, const char* from) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
    return error{errc::invalid_argument, "data dir '" + dir.string() + "' (" + from + ") is not a directory"};
  return dir;
}

} // namespace

result<fs::path> resolve_data_dir(const std::optional<std::string>& flag) {
  if (flag) {
    if (flag->empty()) return error{errc::invalid_argument, "--dir is empty (leave it out for $AQUA_DIR or ~/.aqua)"};
    // The CLI fills --dir from AQUA_DIR when it is not given: name the variable when that is where it came from.
    const char* env = std::getenv("AQUA_DIR");
    return data_dir_from(fs::path(*flag), env != nullptr && *flag == env ? "AQUA_DIR" : "--dir");
  }
  if (const char* env = std::getenv("AQUA_DIR"); env != nullptr) {
    // Set but empty: an unset variable in a script ("AQUA_DIR=$DIR"); falling back to ~/.aqua would use the
    // user's own identity.
    if (*env == '\0') return error{errc::invalid_argument, "AQUA_DIR is set but empty (unset it for ~/.aqua)"};
    return data_dir_from(fs::path(env), "AQUA_DIR");
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
    return data_dir_from(fs::path(home) / ".aqua", "the default, $HOME/.aqua");
  return error{errc::not_found, "no data dir: pass --dir, set AQUA_DIR, or set HOME (default ~/.aqua)"};
}

result<void> ensure_private_dir(const fs::path& dir) {
  std::error_code ec;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return io_error("cannot stat data dir", dir);
    fs::create_directories(dir, ec);
    if (ec) return error{errc::io_error, "cannot create data dir '" + dir.string() + "': " + ec.message()};
    if (::chmod(dir.c_str(), 0700) != 0) return io_error("cannot chmod 0700 data dir", dir);
    return ok();
  }
  if (!S_ISDIR(st.st_mode)) return error{errc::invalid_argument, "data dir '" + dir.string() + "' is not a directory"};
  if ((st.st_mode & 07077) == 0) return ok();
  // Open to others. Tightened only if it is ours to tighten: our user's, no sticky bit, and empty or already an aqua
  // data dir. Any other directory (/tmp, a home, a shared folder) is refused: changing its mode would break it.
  const bool aqua_dir = fs::exists(dir / key_file_name, ec) || fs::exists(dir / config_file_name, ec);
  if (st.st_uid == ::geteuid() && (st.st_mode & S_ISVTX) == 0 && (aqua_dir || fs::is_empty(dir, ec))) {
    if (::chmod(dir.c_str(), 0700) != 0) return io_error("cannot chmod 0700 data dir", dir);
    return ok();
  }
  return error{errc::insecure_permissions,
               "data dir '" + dir.string() + "' is open to others (mode " + mode_string(st.st_mode) +
                 (st.st_uid != ::geteuid() ? ", another user's" : "") +
                 ") and holds other files; aqua keeps its secret key and store there: use a directory of its own, or "
                 "'chmod 700 " + dir.string() + "' if that is what you want"};
}

result<void> write_file_atomic(const fs::path& file, const std::string& content, unsigned mode) {
  fs::path tmp = file;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return io_error("cannot create", tmp);
  ::fchmod(fd, mode);  // umask may have removed bits we asked for; never adds any
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto e = io_error("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    auto e = io_error("cannot flush", tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    auto e = io_error("cannot rename into place", file);
    ::unlink(tmp.c_str());
    return e;
  }
  return ok();
}

result<void> write_key_file(const fs::path& file, const keypair& kp, bool overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(file, ec))
    return error{errc::already_exists,
                 "secret key '" + file.string() + "' already exists; use --force to replace it (the old identity is lost)"};
  std::string content = "# aqua identity secret key. Keep private: mode 0600, never share.\n";
  content += key_header;
  content += ' ';
  content += to_hex(kp.seed());
  content += '\n';
  auto r = write_file_atomic(file, content, 0600);
  sodium_memzero(content.data(), content.size());
  return r;
}

result<keypair> read_key_file(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      // Beside a config or a store, the key was lost or moved: 'aqua init' alone refuses such a dir.
      std::error_code ec;
      const auto dir = file.parent_path();
      if (fs::exists(dir / config_file_name, ec) || fs::exists(dir / "store", ec))
        return error{errc::no_identity, "no secret key at '" + file.string() + "', though " + dir.string() +
                                            " holds a config or a store: put the key back, or run 'aqua --dir " +
                                            dir.string() + " init --force' to start a new identity (the old files "
                                            "are moved aside)"};
      return error{errc::no_identity, "no secret key at '" + file.string() + "'; run 'aqua init' first"};
    }
    return io_error("cannot stat secret key", file);
  }
  if (!S_ISREG(st.st_mode)) return error{errc::bad_key_file, "'" + file.string() + "' is not a regular file"};
  if ((st.st_mode & 077) != 0)
    return error{errc::insecure_permissions,
                 "permissions " + mode_string(st.st_mode) + " for secret key '" + file.string() +
                     "' are too open: it must not be accessible by group or others. Fix with: chmod 600 " +
                     file.string()};
  // Another user's file (not root's) could be swapped for a key of theirs: refused, as sshd refuses such keys.
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    return error{errc::insecure_permissions,
                 "secret key '" + file.string() + "' belongs to uid " + std::to_string(st.st_uid) + ", not to this user (uid " +
                     std::to_string(::geteuid()) + ") or root: use a key file of your own (chown it, or 'aqua init')"};
  if (st.st_size > static_cast<off_t>(max_key_file_size))
    return error{errc::bad_key_file, "secret key '" + file.string() + "' is too large (" +
                                         std::to_string(st.st_size) + " bytes)"};
  std::ifstream in(file);
  if (!in) return io_error("cannot open secret key", file);
  std::string line;
  int lineno = 0, key_line = 0;
  std::optional<keypair> found;
  // One key line; comments and blank lines around it. Anything else after it (a second key, trailing garbage)
  // is refused: which key the file holds must not depend on which line a reader takes.
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos || line[0] == '#') continue;
    auto where = "secret key '" + file.string() + "' line " + std::to_string(lineno) + ": ";
    if (found) {
      sodium_memzero(line.data(), line.size());
      return error{errc::bad_key_file, where + "unexpected text after the key (line " + std::to_string(key_line) +
                                         "): a key file holds one key line"};
    }
    std::istringstream ls(line);
    std::string header, hex, extra;
    ls >> header >> hex >> extra;
    if (header != key_header)
      return error{errc::bad_key_file, where + "expected '" + std::string(key_header) + " <64 hex digits>'"};
    if (!extra.empty()) return error{errc::bad_key_file, where + "unexpected text after the key"};
    const auto hexdigit = [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) != 0; };
    if (hex.size() > 2 * keypair::seed_size && std::all_of(hex.begin(), hex.begin() + 2 * keypair::seed_size, hexdigit) &&
        !hexdigit(hex[2 * keypair::seed_size]))  // e.g. NUL padding right after the key
      return error{errc::bad_key_file, where + "unexpected text after the key"};
    if (hex.size() != 2 * keypair::seed_size)
      return error{errc::bad_key_file, where + "key must be 64 hex digits, got " + std::to_string(hex.size())};
    auto seed = from_hex(hex);
    sodium_memzero(hex.data(), hex.size());
    sodium_memzero(line.data(), line.size());
    if (!seed) return error{errc::bad_key_file, where + seed.err().message()};
    auto kp = keypair::from_seed(*seed);
    sodium_memzero(seed->data(), seed->size());
    if (!kp) return kp.err();
    found.emplace(std::move(*kp));
    key_line = lineno;
  }
  if (!found) return error{errc::bad_key_file, "secret key '" + file.string() + "' holds no key line"};
  return std::move(*found);
}

} // namespace aqua
