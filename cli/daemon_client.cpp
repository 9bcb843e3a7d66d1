#include "daemon_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "commands.hpp"
#include "control/control_server.hpp"
#include "control/unix_address.hpp"
#include "core/json_text.hpp"
#include "identity/key_store.hpp"

namespace aqua::cli {

std::optional<pid_t> store_holder(const std::filesystem::path& data_dir) {
  const auto lock = data_dir / "store" / "LOCK";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  const bool asked = ::fcntl(fd, F_GETLK, &fl) == 0;
  ::close(fd);
  if (!asked || fl.l_type == F_UNLCK) return std::nullopt;
  return fl.l_pid;
}

result<std::unique_ptr<daemon_client>> daemon_client::connect(const std::filesystem::path& data_dir,
                                                              const std::filesystem::path& command_dir) {
  auto path = data_dir / control::socket_name;
  const auto dir = (command_dir.empty() ? data_dir : command_dir).string();
  const auto served = dir == data_dir.string() ? dir : dir + " (data dir " + data_dir.string() + ")";
  std::error_code ec;
  const bool has_identity = std::filesystem::exists(data_dir / key_file_name, ec) ||
                            std::filesystem::exists(std::filesystem::path(dir) / key_file_name, ec);
  auto hint = "no daemon is running for " + served + "; " +
              (has_identity ? std::string() : "this dir holds no identity yet: run 'aqua --dir " + dir +
                                                  " init', then ") +
              "start one with 'aqua --dir " + dir + " serve' (it keeps running until Ctrl-C)";
  // Starting one would fail (store_locked) while another command runs the node itself.
  if (auto pid = has_identity ? store_holder(data_dir) : std::nullopt)
    hint = "no daemon answers for " + served + ", but another aqua process (pid " + std::to_string(*pid) +
           ") holds its node: an 'aqua inbox watch' or 'aqua demo' run without a daemon, or a daemon starting or "
           "stopping. Wait for it or stop it; to share the node between commands, run 'aqua --dir " +
           dir + " serve' instead";
  auto addr = control::unix_address::of(path);
  if (!addr) {
    if (addr.err().code() == errc::io_error && !std::filesystem::exists(data_dir)) return error{errc::not_running, hint};
    return addr.err();
  }
  std::unique_ptr<daemon_client> c(new daemon_client());
  c->fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd_ < 0) return error{errc::io_error, std::string("socket: ") + std::strerror(errno)};
  if (::connect(c->fd_, addr->get(), addr->size()) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) return error{errc::not_running, hint};
    return error{errc::io_error, "cannot connect to " + path.string() + ": " + std::strerror(errno)};
  }
  return c;
}

daemon_client::~daemon_client() {
  if (fd_ >= 0) ::close(fd_);
}

result<nlohmann::json> daemon_client::read_line(std::optional<std::chrono::milliseconds> wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait.value_or(std::chrono::milliseconds(0));
  for (;;) {
    auto nl = buf_.find('\n', scanned_);  // a long line arrives in many reads: each byte is looked at once
    scanned_ = nl == std::string::npos ? buf_.size() : 0;
    if (nl != std::string::npos) {
      auto line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object())
        return error{errc::bad_frame, "the daemon sent a line that is not a JSON object"};
      return j;
    }
    if (buf_.size() > control::max_response_line_bytes)
      return error{errc::frame_too_large, "daemon response line longer than " +
                                              std::to_string(control::max_response_line_bytes) + " bytes"};
    if (wait) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      const int rc = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), INT_MAX))) : 0;
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0)
        return error{errc::timeout, "the daemon did not answer within " +
                                        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(*wait).count()) +
                                        " s (is it stopped or overloaded?)"};
    }
    char tmp[65536];
    auto n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return error{errc::connection_closed, "the daemon closed the control connection"};
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
}

namespace {

result<void> write_request(int fd, const nlohmann::json& req) {
  auto s = detail::json_text(req) + "\n";
  std::size_t off = 0;
  while (off < s.size()) {
    auto n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return error{errc::connection_closed, "the daemon closed the control connection"};
    off += static_cast<std::size_t>(n);
  }
  return ok();
}

error daemon_error(const nlohmann::json& resp) {
  auto e = resp.value("error", nlohmann::json::object());
  auto code_name = e.value("code", std::string("io_error"));
  return error{errc_from_string(code_name).value_or(errc::io_error), e.value("message", std::string("daemon error"))};
}

} // namespace

result<nlohmann::json> daemon_client::call(nlohmann::json request) {
  auto id = next_id_++;
  request["id"] = id;
  // The daemon answers within the request's own wait (timeout_ms) and a margin.
  std::chrono::milliseconds wait = answer_margin;
  if (auto t = request.find("timeout_ms"); t != request.end() && t->is_number_unsigned())
    wait += std::chrono::milliseconds(t->get<std::uint64_t>());
  if (auto r = write_request(fd_, request); !r) {
    // A daemon that refuses us (too many clients) answers and closes, maybe before our request went out.
    auto why = read_line(wait);
    if (why && !why->value("ok", true)) return daemon_error(*why);
    return r.err();
  }
  auto resp = read_line(wait);
  if (!resp) return resp.err();
  if (!resp->value("ok", false)) return daemon_error(*resp);
  return resp->value("result", nlohmann::json::object());
}

result<void> daemon_client::stream(nlohmann::json request, const std::function<bool(const nlohmann::json&)>& on_event) {
  auto first = call(std::move(request));
  if (!first) return first.err();
  for (;;) {
    auto line = read_line();
    if (!line) return line.err();
    if (line->contains("ok") && !line->value("ok", true)) return daemon_error(*line);
    if (!on_event(*line)) return ok();
  }
}

result<std::unique_ptr<daemon_client>> connect_daemon(const global_options& g) {
  auto at = paths_of(g);
  if (!at) return at.err();
  return daemon_client::connect(at->data, at->dir);
}

bool no_daemon(const error& e) { return e.code() == errc::not_running; }

std::optional<result<nlohmann::json>> via_daemon(const global_options& g, const nlohmann::json& req) {
  auto d = connect_daemon(g);
  if (!d) {
    if (no_daemon(d.err())) return std::nullopt;
    return result<nlohmann::json>(d.err());
  }
  return (*d)->call(req);
}

} // namespace aqua::cli
