// relay_client's connections to a relay: reservations, dials and deposits
// share one, whichever of them opened it and whether it is up yet.
#include <gtest/gtest.h>

#include "framework/p2p/relay_server_fixture.hpp"
#include "framework/p2p/socket_breaker.hpp"

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

TEST(relay_client_connections, a_reconnect_adopts_the_connection_a_dial_opened_meanwhile) {
  server s;
  relay_client_config cfg;
  cfg.fetch_mail = false;
  cfg.retry_ms = 3000;
  client a(1, {s.addr()}, cfg);
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }));
  // The relay reads EOF and closes a's connection: a loses its reservation and reconnects after retry_ms.
  ASSERT_EQ(shut_write_sockets(s.port(), port_side::peer), 1);
  ASSERT_TRUE(a.wait([&] { return a.addrs.empty(); }));
  // Before that, a dial through the relay opens a connection to it of its own.
  const std::string nobody = s.addr() + "/p2p-circuit/p2p/" + keypair::from_seed(bytes(32, 9)).value().id().str();
  auto ch = a.rc->dial(nobody);
  ASSERT_TRUE(ch) << ch.err().what();
  ASSERT_TRUE(a.wait([&] { return !a.closed.empty(); }));  // NO_RESERVATION; the connection stays
  ASSERT_TRUE(a.wait([&] { return !a.addrs.empty(); }, 10000ms));  // reconnected and reserved again
  // ... over that connection, not a second one.
  EXPECT_TRUE(s.eventually([](const relay_server_stats& x) { return x.connections == 1; }, 2000ms))
      << s.rs->stats().connections << " connections";
  EXPECT_EQ(tcp_sockets(s.port(), port_side::peer).size(), 1u);
  const auto st = a.rc->status().at(0);
  EXPECT_TRUE(st.connected && st.reserved);
}
