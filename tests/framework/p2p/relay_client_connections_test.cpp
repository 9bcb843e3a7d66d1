// relay_client's connections to a relay: reservations, dials and deposits
// share one, whichever of them opened it and whether it is up yet.
#include <gtest/gtest.h>

#include "framework/p2p/relay_server_fixture.hpp"

using namespace aqua;
using namespace aqua::p2p;
using namespace aqua::test;
using namespace std::chrono_literals;

TEST(relay_client_connections, a_dial_waits_for_the_connection_a_deposit_is_still_opening) {
  server s;
  client b(2, {s.addr()});
  ASSERT_TRUE(b.wait([&] { return !b.addrs.empty(); }));
  client a(1, {});
  // One batch on a's loop: the deposit dials the relay, then the dial finds that connection still handshaking.
  result<channel_id> ch = error{errc::not_running, "not run"};
  a.rc->host().call([&] {
    a.rc->deposit(b.addrs[0], txt("mail"), 0, [](result<void>) {});  // the relay has no mailbox: not_supported
    ch = a.rc->dial(b.addrs[0]);
  });
  ASSERT_TRUE(ch) << ch.err().what();
  ASSERT_TRUE(a.wait([&] { return !a.opened.empty() || !a.closed.empty(); }));
  std::lock_guard lk(a.mu);
  EXPECT_TRUE(a.closed.empty()) << a.closed[0].second.what();
  EXPECT_EQ(a.opened, std::vector<channel_id>{*ch});
}
