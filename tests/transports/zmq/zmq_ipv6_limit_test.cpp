// The zmq listener counts an IPv6 peer's connections under its /64: one host
// usually holds a whole /64, so a per-address limit on single IPv6 addresses
// would bound nothing. Needs addresses of one /64 and of another one: the test
// re-runs itself inside a network namespace of its own (`unshare --net`, root
// only; skipped otherwise) with a few fd00:64:: addresses on its loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>

#include "support/eventually.hpp"
#include "zmq_fixture.hpp"

using namespace aqua;
using namespace std::chrono_literals;

namespace {

constexpr const char* in_netns_env = "AQUA_TEST_IN_NETNS";

// A raw TCP connection from `source` to `[to]:port` that never says anything.
struct silent_tcp6 {
  int fd = -1;
  silent_tcp6(const char* source, const char* to_ip, std::uint16_t port) {
    fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 from{}, to{};
    from.sin6_family = to.sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, source, &from.sin6_addr);
    ::inet_pton(AF_INET6, to_ip, &to.sin6_addr);
    to.sin6_port = htons(port);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from), 0) << source;
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0) << source;
  }
  ~silent_tcp6() { ::close(fd); }
  // The listener ended the connection (EOF or reset); libzmq's greeting is skipped.
  bool ended() const {
    char buf[256];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }
};

// Runs this very test again in a new network namespace; its exit status.
int rerun_in_netns(const std::string& test_name) {
  char exe[PATH_MAX] = {};
  const auto n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  const std::string cmd =
    std::string(in_netns_env) + "=1 timeout 60 unshare --net sh -c '"
    "ip link set lo up && "
    "ip -6 addr add fd00:64:0:1::1/64 dev lo nodad && "
    "ip -6 addr add fd00:64:0:1::2/128 dev lo nodad && "
    "ip -6 addr add fd00:64:0:1::3/128 dev lo nodad && "
    "ip -6 addr add fd00:64:0:2::2/64 dev lo nodad && "
    "exec \"$0\" --gtest_filter=" + test_name + "' " + std::string(exe, static_cast<std::size_t>(n));
  const int rc = std::system(cmd.c_str());
  return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

} // namespace

TEST(zmq, connections_from_one_ipv6_64_share_the_per_address_limit_and_another_64_has_its_own) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name = std::string(info->test_suite_name()) + "." + info->name();
  if (!std::getenv(in_netns_env)) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace of its own";
    if (std::system("command -v unshare >/dev/null && command -v ip >/dev/null") != 0)
      GTEST_SKIP() << "needs unshare(1) and ip(8)";
    EXPECT_EQ(rerun_in_netns(name), 0) << "the run inside the network namespace failed (its output is above)";
    return;
  }
  transport_config cfg;
  cfg.settings = {{"max_connections_per_ip", "3"}, {"handshake_timeout_ms", "20000"}};
  test::node_side server(false, cfg);
  auto addr = server.t->listen("/ip6/fd00:64:0:1::1/tcp/0");
  ASSERT_TRUE(addr) << addr.err().what();
  const auto port = test::port_of(*addr);
  std::vector<std::unique_ptr<silent_tcp6>> same_64;
  for (int i = 0; i < 6; ++i)  // two hosts of one /64, three connections each
    same_64.push_back(std::make_unique<silent_tcp6>(i % 2 ? "fd00:64:0:1::3" : "fd00:64:0:1::2", "fd00:64:0:1::1", port));
  auto ended = [](auto& v) { return std::count_if(v.begin(), v.end(), [](auto& s) { return s->ended(); }); };
  // Three of the six are over the /64's limit (per single address none would be).
  ASSERT_TRUE(test::eventually([&] { return ended(same_64) == 3; }, 3s)) << ended(same_64);
  std::vector<std::unique_ptr<silent_tcp6>> other_64;
  for (int i = 0; i < 3; ++i) other_64.push_back(std::make_unique<silent_tcp6>("fd00:64:0:2::2", "fd00:64:0:1::1", port));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(ended(other_64), 0) << "another /64 has a limit of its own";
  EXPECT_EQ(ended(same_64), 3);
}
