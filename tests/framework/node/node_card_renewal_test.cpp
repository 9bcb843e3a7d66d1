// A node's card over its life (docs/protocol/cards.md, "Renewal"): renewed on request and offered on its relay, and
// a contact whose card expired is reached by looking its card up again, through a real relay node (card directory
// on LevelDB) and the real relay_v2 plugin on 127.0.0.1.
#include <thread>

#include "control/control_handler.hpp"
#include "e2ee/card.hpp"
#include "node_fixture.hpp"

using namespace aqua;
using namespace aqua::test::node_fixture;

namespace {

struct node_card_renewal : ::testing::Test {
  test::temp_dir tmp{"nodecr"};
  std::unique_ptr<node> relay, alice, bob;
  node_config alice_cfg;

  void SetUp() override {
    auto r = node::start(make_node_dir(tmp, "relay",
                                       "components:\n  relay: {serve: true, mailbox: true, listen: [/ip4/127.0.0.1/tcp/0]}\n"
                                       "transports:\n  - plugin: loopback\n    listen: [/memory/cr-relay]\n",
                                       9));
    ASSERT_TRUE(r) << r.err().what();
    relay = std::move(*r);
    const auto addr = relay->status()->relay.addresses.at(0);
    auto b = node::start(make_node_dir(tmp, "bob", relay_only_yaml(addr), 1));
    ASSERT_TRUE(b) << b.err().what();
    bob = std::move(*b);
    alice_cfg = make_node_dir(tmp, "alice", relay_only_yaml(addr), 0);
    auto a = node::start(alice_cfg);
    ASSERT_TRUE(a) << a.err().what();
    alice = std::move(*a);
    ASSERT_TRUE(eventually([&] { return relay->status()->relay.cards_held == 2u; }, 20s));
  }
  // Card `text` as its owner (key seed `seed`) would sign it, valid until `expires_ms`.
  static std::string resigned(const std::string& text, std::uint8_t seed, std::int64_t expires_ms) {
    auto raw = e2ee::card_from_text(text);
    auto card = e2ee::decode_card(raw.value()).value();
    card.expires_ms = expires_ms;
    card.signature = seed_key(seed).sign(e2ee::card_signing_input(card));
    return e2ee::card_to_text(card);
  }
};

TEST_F(node_card_renewal, a_contact_whose_card_expired_is_reached_with_its_card_looked_up_again) {
  const auto now = system_env()->now_unix_ms();
  add_contact(*alice, resigned(bob->card(), 1, now + 1500));  // bob's own card, cut to expire in 1.5 s
  std::this_thread::sleep_for(2s);
  // Through the control API (aqua send): it says the card was replaced.
  control::handler h(*alice, alice_cfg.data_dir);
  auto sent = h.handle({{"id", 1}, {"cmd", "send"}, {"to", bob->id().str()}, {"text", "hi"}});
  ASSERT_TRUE(sent["ok"].get<bool>()) << sent.dump();  // card_expired without the lookup
  EXPECT_EQ(sent["result"].value("card_refreshed", false), true) << sent.dump();
  EXPECT_FALSE(sent["result"].contains("card_found")) << sent.dump();
  auto got = bob->receive(20s);
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_EQ(text(got->payload), "hi");
  auto contacts = alice->contacts();
  ASSERT_TRUE(contacts);
  ASSERT_EQ(contacts->size(), 1u);
  EXPECT_GT(contacts->at(0).card_expires_unix_ms, now + 24LL * 3600 * 1000);  // the card bob published
}

TEST_F(node_card_renewal, a_renewed_card_replaces_the_one_on_the_relay_and_a_new_signed_prekey_opens_first_messages) {
  const auto before = bob->card();
  auto renewed = bob->renew_card(true);
  ASSERT_TRUE(renewed) << renewed.err().what();
  EXPECT_TRUE(renewed->signed_prekey_rotated);
  EXPECT_NE(renewed->card, before);
  EXPECT_EQ(bob->card(), renewed->card);
  auto card = e2ee::decode_card(e2ee::card_from_text(renewed->card).value()).value();
  EXPECT_EQ(card.signed_prekey_id, 2u);
  auto again = bob->renew_card(true);  // the previous signed prekey is needed by the first card
  ASSERT_FALSE(again);
  EXPECT_EQ(again.err().code(), errc::conflict) << again.err().what();
  // alice finds the renewed card (and not the first one) on the relay, and reaches bob through it.
  ASSERT_TRUE(eventually([&] {
    auto found = alice->lookup_contact(bob->id(), {}, 10s);
    return found && found->card == renewed->card;
  }, 20s));
  auto sent = alice->send(bob->id(), bytes{'n', 'e', 'w'}, 30s);
  ASSERT_TRUE(sent) << sent.err().what();
  auto got = bob->receive(20s);
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_EQ(text(got->payload), "new");
}

} // namespace
