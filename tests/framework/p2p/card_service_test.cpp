// card_service sans-I/O: framed requests into its stream handlers, answers out, a real LevelDB
// behind the card_directory, and the server's "loop" being this test thread.
#include <gtest/gtest.h>

#include <chrono>

#include "e2ee/card.hpp"
#include "identity/keypair.hpp"
#include "p2p/card_messages.hpp"
#include "p2p/card_service.hpp"
#include "p2p/relay_messages.hpp"
#include "framework/p2p/service_loop.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;
using namespace aqua::p2p;
namespace cm = aqua::p2p::cards;

namespace {

constexpr std::int64_t t0 = 1700000000000;
constexpr std::int64_t day_ms = 86400000;

keypair key_of(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value(); }
peer_id id_of(std::uint8_t seed) { return key_of(seed).id(); }

bytes make_card(const keypair& signer, std::int64_t created = t0, std::int64_t expires = t0 + 30 * day_ms) {
  e2ee::contact_card c;
  c.identity = signer.pub();
  c.agreement_key.fill(7);
  c.signed_prekey_id = 1;
  c.signed_prekey.fill(8);
  c.addresses = {"/ip4/192.0.2.1/tcp/4001"};
  c.created_ms = created;
  c.expires_ms = expires;
  c.signature = signer.sign(e2ee::card_signing_input(c));
  return e2ee::encode_card(c);
}

using loop = test::service_loop;  // the server's loop

// One stream as the server drives it: take_output() after every call and every wake.
struct stream {
  std::unique_ptr<stream_handler> h;
  int wakes = 0;
  relay::delimited_reader reader{cm::max_message_size};
  std::vector<cm::message> got;

  void send_bytes(bytes_view b) {
    auto r = h->on_data(b);
    ASSERT_TRUE(r) << r.err().what();
    drain();
  }
  void send(const cm::message& m) { send_bytes(cm::frame(m).value()); }
  void drain() {
    reader.feed(h->take_output());
    for (;;) {
      auto raw = reader.next();
      ASSERT_TRUE(raw) << raw.err().what();
      if (!*raw) break;
      auto m = cm::decode(**raw);
      ASSERT_TRUE(m) << m.err().what();
      got.push_back(std::move(*m));
    }
  }
};

struct fixture {
  test::temp_dir tmp{"cardsvc"};
  std::shared_ptr<deterministic_env> env = std::make_shared<deterministic_env>(1, t0);
  std::shared_ptr<store::db> db;
  std::shared_ptr<store::card_directory> directory;
  loop lp;
  std::shared_ptr<card_service> svc;
  stream_service service;
  // Streams live as long as the fixture: a wake the loop still holds may name one.
  std::vector<std::unique_ptr<stream>> streams;

  explicit fixture(store::card_directory_limits limits = {}) {
    db = std::shared_ptr<store::db>(store::db::open(tmp.path() / "s").value().release());
    directory = std::shared_ptr<store::card_directory>(store::card_directory::open(db, limits).value().release());
    svc = card_service::create(directory, env, [this](std::function<void()> fn) { return lp.post(std::move(fn)); });
    service = svc->service();
  }
  stream& open(const peer_id& remote, bool reserved) {
    auto s = std::make_unique<stream>();
    stream* raw = s.get();
    s->h = service.open(stream_context{remote, "/ip4/127.0.0.1/tcp/1", false,
                                       [raw] {
                                         ++raw->wakes;
                                         raw->drain();
                                       },
                                       reserved});
    EXPECT_TRUE(s->h);
    streams.push_back(std::move(s));
    return *raw;
  }
  // Sends `m` on a fresh stream from `from` and waits (bounded) for the one answer.
  cm::message ask(const peer_id& from, const cm::message& m, bool reserved = false) {
    auto& s = open(from, reserved);
    s.send(m);
    EXPECT_TRUE(lp.run_until([&] { return !s.got.empty(); })) << "no answer within 5 s";
    EXPECT_EQ(s.got.size(), 1u);
    EXPECT_TRUE(s.h->finished());
    return s.got.empty() ? cm::message{} : s.got.front();
  }
  cm::message publish(const keypair& who, const bytes& card, bool reserved = true) {
    return ask(who.id(), cm::publish(card), reserved);
  }
  cm::message lookup(const peer_id& from, const peer_id& peer) { return ask(from, cm::lookup(peer.to_bytes())); }
};

std::string status_name(const cm::message& m) {
  if (m.type != cm::message::kind::status) return std::string(cm::to_string(m.type));
  return m.status ? cm::to_string(*m.status) : "STATUS without status";
}

} // namespace

TEST(card_service, protocol_id_is_aqua_card_1_0_0) {
  fixture fx;
  EXPECT_EQ(fx.service.protocol, "/aqua/card/1.0.0");
}

TEST(card_service, looks_up_an_unknown_peer_as_not_found) {
  fixture fx;
  auto a = fx.lookup(id_of(1), id_of(2));
  EXPECT_EQ(a.type, cm::message::kind::status);
  EXPECT_EQ(a.status, cm::status::not_found) << status_name(a);
  EXPECT_NE(a.text.find(id_of(2).str()), std::string::npos) << a.text;
}

TEST(card_service, refuses_a_publish_from_a_peer_without_a_reservation) {
  fixture fx;
  const auto alice = key_of(1);
  auto a = fx.publish(alice, make_card(alice), /*reserved=*/false);
  EXPECT_EQ(a.type, cm::message::kind::status);
  EXPECT_EQ(a.status, cm::status::refused) << status_name(a);
  EXPECT_EQ(fx.directory->size(), 0u);
  EXPECT_EQ(fx.lookup(id_of(2), alice.id()).status, cm::status::not_found);
}

TEST(card_service, keeps_a_reserved_peers_card_and_hands_the_same_bytes_to_a_lookup) {
  fixture fx;
  const auto alice = key_of(1);
  const auto card = make_card(alice);
  auto a = fx.publish(alice, card);
  EXPECT_EQ(a.type, cm::message::kind::status);
  EXPECT_EQ(a.status, cm::status::ok) << status_name(a) << ": " << a.text;
  // OK only once durable: the store has it.
  EXPECT_EQ(fx.directory->get(alice.id(), t0).value().value_or(bytes{}), card);
  // Anyone may look it up, reserved or not.
  auto l = fx.lookup(id_of(5), alice.id());
  EXPECT_EQ(l.type, cm::message::kind::card) << status_name(l);
  EXPECT_EQ(l.card, card);
}

TEST(card_service, the_publish_answer_comes_through_a_wake_once_the_store_committed) {
  fixture fx;
  const auto alice = key_of(1);
  auto& s = fx.open(alice.id(), true);
  auto r = s.h->on_data(cm::frame(cm::publish(make_card(alice))).value());
  ASSERT_TRUE(r) << r.err().what();
  EXPECT_FALSE(s.h->finished());  // storing: no answer before the store committed and the server was woken
  ASSERT_TRUE(fx.lp.run_until([&] { return !s.got.empty(); }));
  EXPECT_GE(s.wakes, 1);
  ASSERT_EQ(s.got.size(), 1u);
  EXPECT_EQ(s.got[0].status, cm::status::ok);
  EXPECT_TRUE(s.h->finished());
  EXPECT_TRUE(s.h->take_output().empty());  // one answer, once
}

TEST(card_service, answers_bad_card_to_a_publish_of_another_peers_card) {
  fixture fx;
  const auto alice = key_of(1), bob = key_of(2);
  auto a = fx.publish(alice, make_card(bob));
  EXPECT_EQ(a.type, cm::message::kind::status);
  EXPECT_EQ(a.status, cm::status::bad_card) << status_name(a);
  EXPECT_EQ(fx.directory->size(), 0u);
  EXPECT_EQ(fx.lookup(id_of(3), bob.id()).status, cm::status::not_found);
  EXPECT_EQ(fx.lookup(id_of(3), alice.id()).status, cm::status::not_found);
}

TEST(card_service, answers_bad_card_to_a_tampered_or_expired_card) {
  fixture fx;
  const auto alice = key_of(1);
  auto tampered = make_card(alice);
  tampered.back() ^= 0x01;
  EXPECT_EQ(fx.publish(alice, tampered).status, cm::status::bad_card);
  EXPECT_EQ(fx.publish(alice, bytes{1, 2, 3}).status, cm::status::bad_card);
  EXPECT_EQ(fx.publish(alice, make_card(alice, t0 - 2 * day_ms, t0 - day_ms)).status, cm::status::bad_card);
  EXPECT_EQ(fx.directory->size(), 0u);
}

TEST(card_service, answers_stale_card_to_a_card_older_than_the_one_held) {
  fixture fx;
  const auto alice = key_of(1);
  const auto newer = make_card(alice, t0);
  ASSERT_EQ(fx.publish(alice, newer).status, cm::status::ok);
  auto a = fx.publish(alice, make_card(alice, t0 - 1000));
  EXPECT_EQ(a.status, cm::status::stale_card) << status_name(a);
  EXPECT_EQ(fx.lookup(id_of(3), alice.id()).card, newer);
}

TEST(card_service, answers_quota_exceeded_when_the_directory_is_full) {
  fixture fx(store::card_directory_limits{.max_cards = 1});
  const auto alice = key_of(1), bob = key_of(2);
  ASSERT_EQ(fx.publish(alice, make_card(alice)).status, cm::status::ok);
  auto a = fx.publish(bob, make_card(bob));
  EXPECT_EQ(a.status, cm::status::quota_exceeded) << status_name(a);
  EXPECT_EQ(fx.lookup(id_of(3), bob.id()).status, cm::status::not_found);
}

TEST(card_service, answers_garbage_with_malformed_message_and_finishes) {
  fixture fx;
  // A frame whose body is no CardMessage.
  auto& junk = fx.open(id_of(1), true);
  junk.send_bytes(bytes{0x03, 0xff, 0xff, 0xff});
  ASSERT_EQ(junk.got.size(), 1u);
  EXPECT_EQ(junk.got[0].status, cm::status::malformed_message) << status_name(junk.got[0]);
  EXPECT_TRUE(junk.h->finished());
  // A length prefix past the bound.
  auto& big = fx.open(id_of(1), true);
  big.send_bytes(bytes{0xff, 0xff, 0xff, 0xff, 0x0f});
  ASSERT_EQ(big.got.size(), 1u);
  EXPECT_EQ(big.got[0].status, cm::status::malformed_message) << status_name(big.got[0]);
  EXPECT_TRUE(big.h->finished());
  // A LOOKUP of bytes that are no peer ID.
  auto bad_peer = fx.ask(id_of(1), cm::lookup(bytes{0xab, 0xcd}));
  EXPECT_EQ(bad_peer.status, cm::status::malformed_message) << status_name(bad_peer);
}

TEST(card_service, answers_a_card_or_status_message_as_request_with_unexpected_message) {
  fixture fx;
  const auto alice = key_of(1);
  auto a = fx.ask(alice.id(), cm::card_message(make_card(alice)), true);
  EXPECT_EQ(a.type, cm::message::kind::status);
  EXPECT_EQ(a.status, cm::status::unexpected_message) << status_name(a);
  EXPECT_EQ(fx.directory->size(), 0u);  // a CARD is not a PUBLISH
  auto s = fx.ask(alice.id(), cm::status_message(cm::status::ok), true);
  EXPECT_EQ(s.status, cm::status::unexpected_message) << status_name(s);
}

TEST(card_service, answers_two_requests_in_one_stream_with_unexpected_message) {
  fixture fx;
  auto& s = fx.open(id_of(1), false);
  auto two = cm::frame(cm::lookup(id_of(2).to_bytes())).value();
  auto second = cm::frame(cm::lookup(id_of(3).to_bytes())).value();
  two.insert(two.end(), second.begin(), second.end());
  s.send_bytes(two);
  ASSERT_EQ(s.got.size(), 1u);
  EXPECT_EQ(s.got[0].status, cm::status::unexpected_message) << status_name(s.got[0]);
  EXPECT_TRUE(s.h->finished());
}

TEST(card_service, answers_a_request_that_arrives_a_byte_at_a_time) {
  fixture fx;
  const auto alice = key_of(1);
  const auto card = make_card(alice);
  ASSERT_EQ(fx.publish(alice, card).status, cm::status::ok);
  auto& s = fx.open(id_of(2), false);
  const auto f = cm::frame(cm::lookup(alice.id().to_bytes())).value();
  for (std::size_t i = 0; i + 1 < f.size(); ++i) {
    s.send_bytes(bytes_view(f).subspan(i, 1));
    ASSERT_TRUE(s.got.empty()) << "answered after " << i + 1 << " of " << f.size() << " bytes";
    ASSERT_FALSE(s.h->finished());
  }
  s.send_bytes(bytes_view(f).last(1));
  ASSERT_EQ(s.got.size(), 1u);
  EXPECT_EQ(s.got[0].type, cm::message::kind::card);
  EXPECT_EQ(s.got[0].card, card);
  EXPECT_TRUE(s.h->finished());
}

TEST(card_service, refuses_data_after_the_request) {
  fixture fx;
  auto& s = fx.open(id_of(1), false);
  s.send(cm::lookup(id_of(2).to_bytes()));
  ASSERT_EQ(s.got.size(), 1u);
  auto r = s.h->on_data(cm::frame(cm::lookup(id_of(3).to_bytes())).value());
  EXPECT_FALSE(r);
}

TEST(card_service, a_stream_closed_without_a_request_finishes_without_an_answer) {
  fixture fx;
  auto& s = fx.open(id_of(1), false);
  EXPECT_FALSE(s.h->finished());
  s.h->on_remote_closed();
  EXPECT_TRUE(s.h->finished());
  EXPECT_TRUE(s.h->take_output().empty());
}

TEST(card_service, a_lookup_does_not_hand_out_an_expired_card_and_sweep_drops_it) {
  fixture fx;
  const auto alice = key_of(1);
  ASSERT_EQ(fx.publish(alice, make_card(alice, t0, t0 + day_ms)).status, cm::status::ok);
  EXPECT_EQ(fx.lookup(id_of(2), alice.id()).type, cm::message::kind::card);
  EXPECT_EQ(fx.svc->sweep(), 0u);
  fx.env->set_ms(t0 + day_ms);
  EXPECT_EQ(fx.lookup(id_of(2), alice.id()).status, cm::status::not_found);
  EXPECT_EQ(fx.directory->size(), 1u);
  EXPECT_EQ(fx.svc->sweep(), 1u);
  EXPECT_EQ(fx.directory->size(), 0u);
}

TEST(card_service, opens_no_handler_once_the_service_is_gone) {
  fixture fx;
  auto open = fx.service.open;
  fx.svc.reset();
  EXPECT_EQ(open(stream_context{id_of(1), "/ip4/127.0.0.1/tcp/1", false, [] {}, true}), nullptr);
}

TEST(card_service, resets_a_stream_whose_request_is_still_incomplete_after_the_timeout) {
  fixture fx;  // incomplete_timeout_ms: 30 s
  const auto f = cm::frame(cm::lookup(id_of(2).to_bytes())).value();
  auto& slow = fx.open(id_of(1), false);
  slow.send_bytes(bytes_view(f).first(5));
  auto& idle = fx.open(id_of(3), false);  // no byte yet: nothing buffered, nothing to reap
  fx.env->set_ms(t0 + 29999);
  EXPECT_EQ(fx.svc->reap(), 0u);
  auto& done = fx.open(id_of(4), false);  // answered at once: not reaped later either
  done.send(cm::lookup(id_of(2).to_bytes()));
  ASSERT_EQ(done.got.size(), 1u);
  fx.env->set_ms(t0 + 30000);
  EXPECT_EQ(fx.svc->reap(), 1u);
  EXPECT_TRUE(slow.h->aborted());
  EXPECT_EQ(slow.wakes, 1);  // the server resets it on the wake
  EXPECT_TRUE(slow.got.empty());
  EXPECT_FALSE(idle.h->aborted());
  EXPECT_FALSE(done.h->aborted());
  EXPECT_EQ(fx.svc->reap(), 0u);  // once
  EXPECT_TRUE(slow.h->on_data(bytes_view(f).subspan(5)));  // the rest, late: ignored
  EXPECT_TRUE(slow.got.empty());
}
