// card_directory: the signed cards a relay keeps for the peers that publish them (k/), on a real LevelDB.
#include <gtest/gtest.h>

#include <leveldb/write_batch.h>

#include <chrono>
#include <future>
#include <thread>

#include "e2ee/card.hpp"
#include "identity/keypair.hpp"
#include "store/card_directory.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;
using namespace aqua::store;

namespace {

constexpr std::int64_t t0 = 1700000000000;
constexpr std::int64_t day_ms = 86400000;

keypair key_of(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value(); }
peer_id id_of(std::uint8_t seed) { return key_of(seed).id(); }

// A card of `signer`'s, signed by it, valid from `created` to `expires`.
e2ee::contact_card unsigned_card(const keypair& signer, std::int64_t created, std::int64_t expires,
                                 std::string address = "/ip4/192.0.2.1/tcp/4001") {
  e2ee::contact_card c;
  c.identity = signer.pub();
  c.agreement_key.fill(7);
  c.signed_prekey_id = 1;
  c.signed_prekey.fill(8);
  c.addresses = {std::move(address)};
  c.capabilities = {"chat"};
  c.created_ms = created;
  c.expires_ms = expires;
  return c;
}
bytes make_card(const keypair& signer, std::int64_t created = t0, std::int64_t expires = t0 + 30 * day_ms,
                std::string address = "/ip4/192.0.2.1/tcp/4001") {
  auto c = unsigned_card(signer, created, expires, std::move(address));
  c.signature = signer.sign(e2ee::card_signing_input(c));
  return e2ee::encode_card(c);
}

struct fixture {
  test::temp_dir tmp{"cards"};
  std::shared_ptr<db> store;
  std::unique_ptr<card_directory> cards;

  explicit fixture(card_directory_limits limits = {}) { reopen(limits); }
  void reopen(card_directory_limits limits = {}) {
    cards.reset();
    store.reset();
    store = std::shared_ptr<db>(db::open(tmp.path() / "s").value().release());
    auto c = card_directory::open(store, limits);
    ASSERT_TRUE(c) << c.err().what();
    cards = std::move(*c);
  }
  // put and wait for `done` (bounded).
  result<void> put(const peer_id& publisher, const bytes& card, std::int64_t now = t0) {
    auto p = std::make_shared<std::promise<result<void>>>();
    auto f = p->get_future();
    cards->put(publisher, card, now, [p](result<void> r) { p->set_value(std::move(r)); });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
      return error{errc::timeout, "put did not complete"};
    return f.get();
  }
  std::optional<bytes> get(const peer_id& peer, std::int64_t now = t0) {
    auto r = cards->get(peer, now);
    EXPECT_TRUE(r) << r.err().what();
    return r ? *r : std::nullopt;
  }
  std::size_t records_under_k() {
    std::size_t n = 0;
    EXPECT_TRUE(store->scan(card_directory_prefix, [&](std::string_view, std::string_view) {
      ++n;
      return true;
    }));
    return n;
  }
};

} // namespace

TEST(card_directory, keeps_a_publishers_own_card_and_returns_its_exact_bytes) {
  fixture fx;
  const auto alice = key_of(1);
  const auto card = make_card(alice);
  EXPECT_FALSE(fx.get(alice.id()));
  ASSERT_TRUE(fx.put(alice.id(), card));
  auto got = fx.get(alice.id());
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, card);
  EXPECT_EQ(fx.cards->size(), 1u);
  EXPECT_EQ(fx.records_under_k(), 1u);
  EXPECT_TRUE(fx.store->get(std::string(card_directory_prefix) + alice.id().str()).value().has_value());
  // Nobody else's card came with it.
  EXPECT_FALSE(fx.get(id_of(2)));
  // Publishing the same card again is fine and changes nothing.
  ASSERT_TRUE(fx.put(alice.id(), card, t0 + 1000));
  EXPECT_EQ(fx.get(alice.id()).value_or(bytes{}), card);
  EXPECT_EQ(fx.cards->size(), 1u);
}

TEST(card_directory, refuses_a_card_that_is_not_the_publishers_own) {
  fixture fx;
  const auto alice = key_of(1), mallory = key_of(9);
  auto r = fx.put(mallory.id(), make_card(alice));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::wrong_recipient) << r.err().what();
  EXPECT_FALSE(fx.get(alice.id()));
  EXPECT_FALSE(fx.get(mallory.id()));
  EXPECT_EQ(fx.cards->size(), 0u);
  EXPECT_EQ(fx.records_under_k(), 0u);
}

TEST(card_directory, refuses_tampered_cards_and_bytes_that_are_no_card) {
  fixture fx;
  const auto alice = key_of(1), mallory = key_of(9);
  // A field changed after signing.
  auto c = unsigned_card(alice, t0, t0 + day_ms);
  c.signature = alice.sign(e2ee::card_signing_input(c));
  c.addresses = {"/ip4/203.0.113.66/tcp/4001"};
  auto r = fx.put(alice.id(), e2ee::encode_card(c));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_card_signature) << r.err().what();
  // Alice's card signed by Mallory.
  auto forged = unsigned_card(alice, t0, t0 + day_ms);
  forged.signature = mallory.sign(e2ee::card_signing_input(forged));
  r = fx.put(alice.id(), e2ee::encode_card(forged));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_card_signature) << r.err().what();
  // A flipped signature byte.
  auto flipped = make_card(alice);
  flipped.back() ^= 0x01;
  r = fx.put(alice.id(), flipped);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_card_signature) << r.err().what();
  // Not a card at all, and a card cut short.
  r = fx.put(alice.id(), bytes{1, 2, 3});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_card) << r.err().what();
  auto cut = make_card(alice);
  cut.resize(cut.size() - 1);
  r = fx.put(alice.id(), cut);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_card) << r.err().what();
  EXPECT_FALSE(fx.get(alice.id()));
  EXPECT_EQ(fx.cards->size(), 0u);
  EXPECT_EQ(fx.records_under_k(), 0u);
}

TEST(card_directory, refuses_an_expired_card_and_stops_handing_one_out_once_it_expires) {
  fixture fx;
  const auto alice = key_of(1), bob = key_of(2);
  auto r = fx.put(alice.id(), make_card(alice, t0 - 2 * day_ms, t0 - day_ms));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::card_expired) << r.err().what();
  r = fx.put(alice.id(), make_card(alice, t0 - day_ms, t0));  // expires right now
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::card_expired) << r.err().what();
  EXPECT_EQ(fx.cards->size(), 0u);

  const auto card = make_card(bob, t0, t0 + day_ms);
  ASSERT_TRUE(fx.put(bob.id(), card));
  EXPECT_EQ(fx.get(bob.id(), t0 + day_ms - 1).value_or(bytes{}), card);
  EXPECT_FALSE(fx.get(bob.id(), t0 + day_ms));
  EXPECT_FALSE(fx.get(bob.id(), t0 + 2 * day_ms));
  // Still held (expire() has not run): only get hides it.
  EXPECT_EQ(fx.cards->size(), 1u);
}

TEST(card_directory, refuses_a_card_older_than_the_one_held_and_replaces_it_with_a_newer_one) {
  fixture fx;
  const auto alice = key_of(1);
  const auto first = make_card(alice, t0, t0 + 30 * day_ms, "/ip4/192.0.2.1/tcp/1");
  const auto older = make_card(alice, t0 - 1000, t0 + 30 * day_ms, "/ip4/192.0.2.1/tcp/2");
  const auto newer = make_card(alice, t0 + 1000, t0 + 30 * day_ms, "/ip4/192.0.2.1/tcp/3");
  ASSERT_TRUE(fx.put(alice.id(), first, t0 + 5000));
  auto r = fx.put(alice.id(), older, t0 + 5000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::conflict) << r.err().what();
  EXPECT_EQ(fx.get(alice.id(), t0 + 5000).value_or(bytes{}), first);

  ASSERT_TRUE(fx.put(alice.id(), newer, t0 + 5000));
  EXPECT_EQ(fx.get(alice.id(), t0 + 5000).value_or(bytes{}), newer);
  EXPECT_EQ(fx.cards->size(), 1u);
  EXPECT_EQ(fx.records_under_k(), 1u);
  // The first card is now the older one: a replay of it cannot roll alice back.
  r = fx.put(alice.id(), first, t0 + 5000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::conflict) << r.err().what();
  EXPECT_EQ(fx.get(alice.id(), t0 + 5000).value_or(bytes{}), newer);
  // ... not after a restart either.
  fx.reopen();
  r = fx.put(alice.id(), first, t0 + 5000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::conflict) << r.err().what();
  EXPECT_EQ(fx.get(alice.id(), t0 + 5000).value_or(bytes{}), newer);
}

TEST(card_directory, refuses_a_new_peer_past_the_quota_but_lets_a_held_peer_refresh) {
  fixture fx(card_directory_limits{.max_cards = 1});
  const auto alice = key_of(1), bob = key_of(2);
  ASSERT_TRUE(fx.put(alice.id(), make_card(alice)));
  auto r = fx.put(bob.id(), make_card(bob));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::quota_exceeded) << r.err().what();
  EXPECT_FALSE(fx.get(bob.id()));
  const auto refreshed = make_card(alice, t0 + 1000);
  ASSERT_TRUE(fx.put(alice.id(), refreshed, t0 + 2000));
  EXPECT_EQ(fx.get(alice.id(), t0 + 2000).value_or(bytes{}), refreshed);
  EXPECT_EQ(fx.cards->size(), 1u);
  // Once alice's card is swept, bob's fits.
  EXPECT_EQ(fx.cards->expire(t0 + 31 * day_ms), 1u);
  ASSERT_TRUE(fx.put(bob.id(), make_card(bob, t0 + 31 * day_ms, t0 + 32 * day_ms), t0 + 31 * day_ms));
  EXPECT_EQ(fx.cards->size(), 1u);
}

TEST(card_directory, a_full_directory_drops_its_expired_cards_for_a_new_peer_before_the_sweep) {
  fixture fx(card_directory_limits{.max_cards = 2});
  const auto alice = key_of(1), bob = key_of(2), carol = key_of(3), dave = key_of(4);
  ASSERT_TRUE(fx.put(alice.id(), make_card(alice, t0, t0 + day_ms)));
  ASSERT_TRUE(fx.put(bob.id(), make_card(bob, t0, t0 + 3 * day_ms)));
  auto full = fx.put(carol.id(), make_card(carol, t0 + 1000, t0 + 3 * day_ms), t0 + 1000);  // nothing expired yet
  ASSERT_FALSE(full);
  EXPECT_EQ(full.err().code(), errc::quota_exceeded) << full.err().what();
  // A day later alice's card expired: it makes room for carol (no sweep ran), bob's stays.
  ASSERT_TRUE(fx.put(carol.id(), make_card(carol, t0 + day_ms, t0 + 3 * day_ms), t0 + day_ms));
  EXPECT_EQ(fx.cards->size(), 2u);
  EXPECT_FALSE(fx.get(alice.id(), t0));
  EXPECT_TRUE(fx.get(bob.id(), t0 + day_ms));
  // Full of valid cards: refused again.
  auto still = fx.put(dave.id(), make_card(dave, t0 + day_ms, t0 + 3 * day_ms), t0 + day_ms + 2000);
  ASSERT_FALSE(still);
  EXPECT_EQ(still.err().code(), errc::quota_exceeded);
}

TEST(card_directory, expire_deletes_only_expired_cards) {
  fixture fx;
  const auto alice = key_of(1), bob = key_of(2), carol = key_of(3);
  ASSERT_TRUE(fx.put(alice.id(), make_card(alice, t0, t0 + day_ms)));
  ASSERT_TRUE(fx.put(bob.id(), make_card(bob, t0, t0 + 2 * day_ms)));
  const auto carols = make_card(carol, t0, t0 + 3 * day_ms);
  ASSERT_TRUE(fx.put(carol.id(), carols));
  ASSERT_EQ(fx.cards->size(), 3u);
  EXPECT_EQ(fx.cards->expire(t0 + day_ms - 1), 0u);
  EXPECT_EQ(fx.cards->size(), 3u);
  EXPECT_EQ(fx.cards->expire(t0 + 2 * day_ms), 2u);
  EXPECT_EQ(fx.cards->size(), 1u);
  EXPECT_EQ(fx.cards->expire(t0 + 2 * day_ms), 0u);
  EXPECT_FALSE(fx.get(alice.id(), t0));  // gone, not merely hidden at a later time
  EXPECT_FALSE(fx.get(bob.id(), t0));
  EXPECT_EQ(fx.get(carol.id(), t0 + 2 * day_ms).value_or(bytes{}), carols);
  // The records go too (asynchronously: bounded wait), so a restart does not bring them back.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (fx.records_under_k() != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(fx.records_under_k(), 1u);
  fx.reopen();
  EXPECT_EQ(fx.cards->size(), 1u);
  EXPECT_FALSE(fx.get(alice.id(), t0));
}

TEST(card_directory, expire_deletes_at_most_max_cards_per_call) {
  fixture fx;
  for (std::uint8_t s = 1; s <= 5; ++s) ASSERT_TRUE(fx.put(id_of(s), make_card(key_of(s), t0, t0 + day_ms)));
  EXPECT_EQ(fx.cards->expire(t0 + day_ms, 2), 2u);
  EXPECT_EQ(fx.cards->size(), 3u);
  EXPECT_EQ(fx.cards->expire(t0 + day_ms, 10), 3u);
  EXPECT_EQ(fx.cards->size(), 0u);
}

TEST(card_directory, reopening_rebuilds_the_index) {
  fixture fx;
  const auto alice = key_of(1), bob = key_of(2);
  const auto a = make_card(alice, t0, t0 + day_ms), b = make_card(bob, t0, t0 + 2 * day_ms);
  ASSERT_TRUE(fx.put(alice.id(), a));
  ASSERT_TRUE(fx.put(bob.id(), b));
  fx.reopen();
  EXPECT_EQ(fx.cards->size(), 2u);
  EXPECT_EQ(fx.get(alice.id()).value_or(bytes{}), a);
  EXPECT_EQ(fx.get(bob.id()).value_or(bytes{}), b);
  // The expiry times came back with the index.
  EXPECT_FALSE(fx.get(alice.id(), t0 + day_ms));
  EXPECT_EQ(fx.get(bob.id(), t0 + day_ms).value_or(bytes{}), b);
  EXPECT_EQ(fx.cards->expire(t0 + day_ms), 1u);
  EXPECT_EQ(fx.cards->size(), 1u);
}

TEST(card_directory, reopening_skips_records_that_are_no_card_of_their_peer) {
  fixture fx;
  const auto alice = key_of(1), bob = key_of(2);
  const auto a = make_card(alice);
  ASSERT_TRUE(fx.put(alice.id(), a));
  // Records a damaged disk or another writer left: alice's card under bob's key, and junk under carol's.
  auto record = fx.store->get(std::string(card_directory_prefix) + alice.id().str()).value().value();
  leveldb::WriteBatch b;
  b.Put(std::string(card_directory_prefix) + bob.id().str(), record);
  b.Put(std::string(card_directory_prefix) + id_of(3).str(), std::string("\x01junk", 5));
  ASSERT_TRUE(fx.store->write(std::move(b)));
  fx.reopen();
  EXPECT_EQ(fx.cards->size(), 1u);
  EXPECT_EQ(fx.get(alice.id()).value_or(bytes{}), a);
  EXPECT_FALSE(fx.get(bob.id()));
  EXPECT_FALSE(fx.get(id_of(3)));
}
