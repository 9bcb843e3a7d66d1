// A node taking held mail from a relay's mailbox through the real relay_v2
// plugin (reservation, fetch stream, deliver_held, the node's actors and
// LevelDB store), against an in-process mailbox relay on 127.0.0.1.
#include "framework/p2p/mailbox_relay.hpp"
#include "node_fixture.hpp"

using namespace aqua;
using namespace aqua::test::node_fixture;

// An envelope whose tag lies beyond the receiver's window (here: 100 sealed
// envelopes were never delivered) can only be placed by searching ahead in
// its likely sender's sessions. For held mail the likely sender is the
// depositor the relay reports: deposited by a third party, the envelope is
// rejected; the same bytes deposited by their sender are opened.
TEST(node_held_mail, places_an_envelope_beyond_the_tag_window_by_the_depositor_the_relay_reports) {
  test::temp_dir tmp("nodehm");
  test::mailbox_relay relay(7, tmp.path() / "relay");
  auto bob = node::start(make_node_dir(tmp, "bob", relay_only_yaml(relay.addr()), 1));
  ASSERT_TRUE(bob) << bob.err().what();
  outsider alice(3);
  // Alice is offline behind the same relay: bob's acks to her land in its mailbox.
  auto card = e2ee::make_own_card(*alice.engine, [&](bytes_view m) { return alice.kp.sign(m); },
                                  {relay.addr() + "/p2p-circuit/p2p/" + alice.kp.id().str()}, {}, 3600 * 1000);
  ASSERT_TRUE(card) << card.err().what();
  add_contact(**bob, e2ee::card_to_text(*card));
  test::mailbox_depositor by_alice(alice.kp), by_carol(seed_key(4));

  ASSERT_TRUE(by_alice.deposit(relay.addr(), (*bob)->id(), alice.seal_for(**bob, "first", 1)));
  auto first = (*bob)->receive(10s);
  ASSERT_TRUE(first) << first.err().what();
  EXPECT_EQ(text(first->payload), "first");
  // Alice opens mail from bob (his reply; also his ack, if it took the
  // mailbox): her session is confirmed, so her next envelopes are session
  // envelopes, found only by their tags. Bob's outbox retries the reply
  // until it finds alice's relayed address dead and deposits it.
  ASSERT_TRUE((*bob)->send(alice.kp.id(), bytes{'h', 'i'}));
  bool opened = false;
  ASSERT_TRUE(eventually([&] {
    auto mail = relay.mail().list(alice.kp.id(), 0, 10, 1 << 20);
    if (mail)
      for (auto& m : *mail) opened = alice.engine->open(m.envelope).has_value() || opened;
    return opened;
  }, 30s));
  bytes far;
  for (std::uint8_t i = 2; i <= 102; ++i) far = alice.seal_for(**bob, "message " + std::to_string(i), i);
  const auto rejected_before = (*bob)->status()->frames_rejected;
  ASSERT_TRUE(eventually([&] { return relay.mail().stats().acked == 1u; }, 10s));  // "first"
  ASSERT_TRUE(by_carol.deposit(relay.addr(), (*bob)->id(), far));
  ASSERT_TRUE(eventually([&] { return (*bob)->status()->frames_rejected == rejected_before + 1; }, 10s));
  // Rejected for good: acknowledged to the relay, which deletes it (else the
  // same bytes deposited again would count as held already).
  ASSERT_TRUE(eventually([&] { return relay.mail().stats().acked == 2u; }, 10s));

  ASSERT_TRUE(by_alice.deposit(relay.addr(), (*bob)->id(), far));  // the same bytes, now from their sender
  auto got = (*bob)->receive(10s);
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_EQ(text(got->payload), "message 102");
  EXPECT_EQ(got->sender, alice.kp.id());
  EXPECT_EQ(got->transport, "mailbox");
}
