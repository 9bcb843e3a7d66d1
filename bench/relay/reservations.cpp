// bench/relay: memory per idle reservation (see reservations.hpp).
#include "reservations.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "p2p/relay_server.hpp"
#include "swarm.hpp"

extern char** environ;

namespace aqua::bench {
namespace {

using clk = std::chrono::steady_clock;

keypair relay_key() { return keypair::from_seed(bytes(keypair::seed_size, 0x52)).value(); }

std::int64_t status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  return -1;
}

// The relay child: stdin/stdout pipes, bounded line reads, killed by PID if it does not quit.
class relay_process {
 public:
  ~relay_process() { stop(); }

  result<void> spawn(const std::string& exe, std::size_t n) {
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0) return error{errc::io_error, "pipe"};
    if (::pipe2(from_child, O_CLOEXEC) != 0) {
      ::close(to_child[0]);
      ::close(to_child[1]);
      return error{errc::io_error, "pipe"};
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
    const std::string count = std::to_string(n);
    std::vector<char*> argv{const_cast<char*>(exe.c_str()), const_cast<char*>("--relay-server"),
                            const_cast<char*>(count.c_str()), nullptr};
    const int rc = ::posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(to_child[0]);
    ::close(from_child[1]);
    in_ = to_child[1];
    out_ = from_child[0];
    if (rc != 0) {
      pid_ = -1;
      return error{errc::io_error, "posix_spawn " + exe + ": " + std::strerror(rc)};
    }
    return ok();
  }
  pid_t pid() const { return pid_; }

  result<std::string> read_line(clk::time_point until) {
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clk::now()).count();
      if (left <= 0) return error{errc::timeout, "relay process: no answer in time"};
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char tmp[4096];
      const ssize_t r = ::read(out_, tmp, sizeof tmp);
      if (r <= 0) return error{errc::connection_closed, "relay process: exited"};
      buf_.append(tmp, static_cast<std::size_t>(r));
    }
  }
  bool send_line(const std::string& line) {
    const std::string s = line + "\n";
    return ::write(in_, s.data(), s.size()) == static_cast<ssize_t>(s.size());
  }
  result<memory_sample> sample(clk::time_point until) {
    if (!send_line("stats")) return error{errc::connection_closed, "relay process: gone"};
    auto line = read_line(until);
    if (!line) return line.err();
    std::istringstream in(*line);
    std::string tag;
    memory_sample m;
    if (!(in >> tag >> m.reservations >> m.connections >> m.heap_bytes) || tag != "stats")
      return error{errc::bad_frame, "relay process: unexpected answer '" + *line + "'"};
    m.rss_kb = status_kb(pid_, "VmRSS");
    m.anon_kb = status_kb(pid_, "RssAnon");
    return m;
  }
  // "quit", then up to 10 s for it to exit, then SIGKILL (this child only).
  void stop() {
    if (pid_ <= 0) return;
    send_line("quit");
    ::close(in_);
    in_ = -1;
    int status = 0;
    const auto until = clk::now() + std::chrono::seconds(10);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (clk::now() >= until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    ::close(out_);
    out_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string buf_;
};

}  // namespace

void raise_nofile(std::size_t want) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur >= want) return;
  rlimit up{};
  up.rlim_cur = want;
  up.rlim_max = rl.rlim_max < want ? want : rl.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &up) != 0) {
    up.rlim_max = rl.rlim_max;  // not root: as far as the hard limit allows
    up.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &up);
  }
}

int relay_server_main(std::size_t n) {
  raise_nofile(n + 1024);
  const keypair key = relay_key();
  p2p::relay_server_config cfg;
  cfg.listen = {"/ip4/127.0.0.1/tcp/0"};
  cfg.hop.max_reservations = n + 16;
  cfg.hop.max_reservations_per_ip = n + 16;  // every client comes from 127.0.0.1
  cfg.max_connections = n + 64;
  cfg.max_connections_per_ip = n + 64;
  cfg.new_connections_per_ip_per_s = 0;  // all n connect at once, from one address
  cfg.ping_interval_ms = 0;  // idle means idle: no keepalive traffic during the measurement
  cfg.ping_timeout_ms = 0;   // ... and no connection closed for it
  p2p::relay_server rs(key, system_env(), cfg);
  if (auto r = rs.start(); !r) {
    std::cout << "error " << r.err().what() << std::endl;
    return 1;
  }
  std::cout << "ready " << rs.addresses().at(0) << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "quit") break;
    if (line == "stats") {
      const auto st = rs.stats();
      const auto mi = ::mallinfo2();
      std::cout << "stats " << st.hop.reservations << ' ' << st.connections << ' ' << mi.uordblks << std::endl;
    }
  }
  rs.stop();
  return 0;
}

reservation_result run_reservations(const std::string& self_exe, std::size_t n, double timeout_s) {
  reservation_result res;
  res.n = n;
  const auto until = clk::now() + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(timeout_s));
  auto fail = [&](const std::string& why) {
    res.error = why;
    return res;
  };
  raise_nofile(n + 1024);
  relay_process relay;
  if (auto r = relay.spawn(self_exe, n); !r) return fail(r.err().what());
  auto ready = relay.read_line(until);
  if (!ready) return fail(ready.err().what());
  const auto at = ready->find("/tcp/");
  if (ready->rfind("ready ", 0) != 0 || at == std::string::npos) return fail("relay process: " + *ready);
  const auto port = static_cast<std::uint16_t>(std::stoi(ready->substr(at + 5)));

  // Let the idle server settle (lazy initialisation, the loop thread's first allocations).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto before = relay.sample(until);
  if (!before) return fail(before.err().what());
  res.before = *before;

  reservation_swarm swarm(port, relay_key().id(), 128);
  const auto t0 = clk::now();
  auto step = [&](std::size_t target, memory_sample& into) -> result<void> {
    if (auto r = swarm.reserve_until(target, until); !r) return r;
    auto m = relay.sample(until);
    if (!m) return m.err();
    if (m->reservations != target)
      return error{errc::bad_frame, "relay reports " + std::to_string(m->reservations) + " reservations, expected " +
                                        std::to_string(target)};
    into = *m;
    return ok();
  };
  if (auto r = step(n / 2, res.half); !r) return fail(r.err().what());
  if (auto r = step(n, res.after); !r) return fail(r.err().what());
  res.setup_seconds = std::chrono::duration<double>(clk::now() - t0).count();
  if (auto r = swarm.idle(2000); !r) return fail("while idle: " + r.err().what());
  auto idle = relay.sample(until);
  if (!idle) return fail(idle.err().what());
  if (idle->reservations != n) return fail("reservations lost while idle: " + std::to_string(idle->reservations));
  res.idle = *idle;
  swarm.close_all();
  relay.stop();
  res.ok = true;
  return res;
}

} // namespace aqua::bench
