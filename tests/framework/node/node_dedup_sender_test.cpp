// Duplicates are (sender, message ID) pairs: message IDs are the senders'
// choice (send_options::message_id), so two senders may pick the same one for
// different messages. Both are delivered; a sender's own copies are not, also
// after the receiver restarts (docs/protocol/delivery.md, "Duplicates").
#include "delivery/outbox.hpp"
#include "node_fixture.hpp"

using namespace aqua;
using namespace aqua::test::node_fixture;

namespace {

const std::string shared_id = "00000000000000000000000000000001";

// alice (seed 0), bob (seed 1, listening on /memory/<tag>-bob) and carol (seed 2), both routed to bob.
// alice and carol start their sessions from the same copy of bob's card, so carol picks the one-time prekey
// alice's first message spent 1 time in 20: it must still open (sessions.md, "One-time prekeys"; until
// 2026-11-27 she was refused for good, prekey_unavailable, and these tests failed 1 run in 8).
struct trio {
  node_config a_cfg, b_cfg, c_cfg;
  std::unique_ptr<node> alice, bob, carol;
  trio(const test::temp_dir& tmp, const std::string& tag)
      : a_cfg(make_node_dir(tmp, "alice", yaml_for("/memory/" + tag + "-alice", route(1, "/memory/" + tag + "-bob")), 0)),
        b_cfg(make_node_dir(tmp, "bob", yaml_for("/memory/" + tag + "-bob", ""), 1)),
        c_cfg(make_node_dir(tmp, "carol", yaml_for("/memory/" + tag + "-carol", route(1, "/memory/" + tag + "-bob")), 2)) {
    auto b = node::start(b_cfg);
    auto a = node::start(a_cfg);
    auto c = node::start(c_cfg);
    EXPECT_TRUE(a && b && c);
    if (!a || !b || !c) return;
    alice = std::move(*a);
    bob = std::move(*b);
    carol = std::move(*c);
    introduce(*alice, *bob);
    introduce(*carol, *bob);
  }
};

result<std::string> send_with_id(node& from, const std::string& body) {
  send_options o;
  o.message_id = shared_id;
  return from.send(seed_key(1).id(), bytes(body.begin(), body.end()), o);
}

bool delivered(node& n) {
  auto out = n.outbox();
  return out && out->size() == 1u && (*out)[0].state == "delivered";
}

// The envelope `dir`'s outbox holds for `id` until it is delivered: what its retries send (its node must be stopped).
bytes sealed_envelope(const std::filesystem::path& dir, const std::string& id) {
  auto db = store::db::open(dir / "store");
  EXPECT_TRUE(db) << db.err().what();
  if (!db) return {};
  auto v = (*db)->get("o/" + id);
  EXPECT_TRUE(v && *v);
  if (!v || !*v) return {};
  auto rec = delivery::out_record::decode(as_bytes(**v));
  EXPECT_TRUE(rec) << rec.err().what();
  return rec ? rec->envelope : bytes{};
}

// alice sends `body` with the shared id while bob is down; returns the envelope her outbox then holds (the bytes
// every retry sends), and restarts both: alice's retry delivers it.
bytes send_from_alice_while_bob_is_down(trio& t, const test::temp_dir& tmp, const std::string& body) {
  t.bob.reset();
  EXPECT_TRUE(send_with_id(*t.alice, body));
  t.alice.reset();
  auto env = sealed_envelope(tmp.path() / "alice", shared_id);
  auto b = node::start(t.b_cfg);
  auto a = node::start(t.a_cfg);
  EXPECT_TRUE(a && b);
  if (a) t.alice = std::move(*a);
  if (b) t.bob = std::move(*b);
  return env;
}

// Sends `frame` to `n` on a raw connection and waits until its mailbox has taken it; then nothing may come out.
void inject(node& n, const std::string& addr, const bytes& frame) {
  auto before = n.status()->frames_received;
  raw_link link(addr);
  ASSERT_TRUE(link.conn->send(frame));
  EXPECT_TRUE(eventually([&] { return n.status()->frames_received == before + 1; }));
  EXPECT_FALSE(n.receive(300ms));
}

void restart(std::unique_ptr<node>& n, const node_config& cfg) {
  n.reset();
  auto again = node::start(cfg);
  ASSERT_TRUE(again) << again.err().what();
  n = std::move(*again);
}

} // namespace

TEST(node_dedup, the_same_message_id_from_two_senders_is_delivered_twice) {
  test::temp_dir tmp("node");
  trio t(tmp, "dd2");
  ASSERT_TRUE(t.alice && t.bob && t.carol);
  auto retry = send_from_alice_while_bob_is_down(t, tmp, "alice: invoice #1");
  ASSERT_FALSE(retry.empty());
  ASSERT_TRUE(t.alice && t.bob);
  auto first = t.bob->receive(10s);
  ASSERT_TRUE(first) << first.err().what();
  EXPECT_EQ(first->sender, seed_key(0).id());
  EXPECT_EQ(text(first->payload), "alice: invoice #1");
  ASSERT_TRUE(send_with_id(*t.carol, "carol: stop the job"));
  auto second = t.bob->receive(10s);
  ASSERT_TRUE(second) << second.err().what();
  EXPECT_EQ(second->sender, seed_key(2).id());
  EXPECT_EQ(text(second->payload), "carol: stop the job");
  EXPECT_EQ(second->message_id, shared_id);
  EXPECT_TRUE(eventually([&] { return delivered(*t.alice) && delivered(*t.carol); }));

  // alice's real retry (the very bytes her outbox resent) is a duplicate: acked, never delivered again,
  // neither now nor after bob restarts (when the engine no longer knows the spent key).
  inject(*t.bob, "/memory/dd2-bob", retry);
  EXPECT_EQ(t.bob->status()->frames_rejected, 0u);  // a duplicate, not a rejected envelope
  restart(t.bob, t.b_cfg);
  inject(*t.bob, "/memory/dd2-bob", retry);
  EXPECT_EQ(t.bob->status()->frames_rejected, 0u);
  EXPECT_EQ(t.bob->status()->messages_received, 0u);  // this run stored nothing new
  EXPECT_EQ(t.bob->inbox()->size(), 2u);
}

// The store's dedup index after a restart: carol's message, sent while bob is down with the id alice already
// used, is delivered when bob comes back (it used to be acked as a duplicate of alice's and dropped).
TEST(node_dedup, the_same_message_id_from_another_sender_is_delivered_after_a_restart) {
  test::temp_dir tmp("node");
  trio t(tmp, "ddr");
  ASSERT_TRUE(t.alice && t.bob && t.carol);
  ASSERT_TRUE(send_with_id(*t.alice, "alice: invoice #1"));
  auto first = t.bob->receive(10s);
  ASSERT_TRUE(first) << first.err().what();
  EXPECT_TRUE(eventually([&] { return delivered(*t.alice); }));
  t.bob.reset();
  ASSERT_TRUE(send_with_id(*t.carol, "carol: stop the job"));
  auto b = node::start(t.b_cfg);
  ASSERT_TRUE(b) << b.err().what();
  t.bob = std::move(*b);
  auto second = t.bob->receive(15s);
  ASSERT_TRUE(second) << second.err().what();
  EXPECT_EQ(second->sender, seed_key(2).id());
  EXPECT_EQ(text(second->payload), "carol: stop the job");
  EXPECT_TRUE(eventually([&] { return delivered(*t.carol); }));
  EXPECT_FALSE(t.bob->receive(300ms));
  EXPECT_EQ(t.bob->inbox()->size(), 2u);
}

// A dedup record written before the index was keyed by sender (d/<id>) is moved to d/<id>/<sender> when the
// mailbox loads, and still makes that sender's retry a duplicate.
TEST(node_dedup, dedup_records_of_the_old_layout_still_catch_retries) {
  test::temp_dir tmp("node");
  trio t(tmp, "ddl");
  ASSERT_TRUE(t.alice && t.bob && t.carol);
  t.carol.reset();
  auto retry = send_from_alice_while_bob_is_down(t, tmp, "alice: invoice #1");
  ASSERT_FALSE(retry.empty());
  ASSERT_TRUE(t.alice && t.bob);
  ASSERT_TRUE(t.bob->receive(10s));
  EXPECT_TRUE(eventually([&] { return delivered(*t.alice); }));
  t.alice.reset();
  t.bob.reset();
  const auto new_key = "d/" + shared_id + "/" + seed_key(0).id().str();
  {  // rewrite bob's record as the old layout wrote it: key d/<id>, version 1 value (no tag)
    auto db = store::db::open(tmp.path() / "bob" / "store");
    ASSERT_TRUE(db) << db.err().what();
    auto v = (*db)->get(new_key);
    ASSERT_TRUE(v && *v);
    auto rec = delivery::dedup_record::decode(as_bytes(**v));
    ASSERT_TRUE(rec && rec->tag);
    rec->tag.reset();
    leveldb::WriteBatch b;
    b.Delete(new_key);
    auto old = rec->encode();
    EXPECT_EQ(old[0], 1);
    b.Put("d/" + shared_id, store::as_slice(old));
    ASSERT_TRUE((*db)->write(std::move(b)));
  }
  auto b = node::start(t.b_cfg);
  ASSERT_TRUE(b) << b.err().what();
  t.bob = std::move(*b);
  inject(*t.bob, "/memory/ddl-bob", retry);
  EXPECT_EQ(t.bob->status()->frames_rejected, 0u);
  EXPECT_EQ(t.bob->inbox()->size(), 1u);
  t.bob.reset();
  auto db = store::db::open(tmp.path() / "bob" / "store");
  ASSERT_TRUE(db) << db.err().what();
  EXPECT_FALSE(*(*db)->get("d/" + shared_id));  // moved
  EXPECT_TRUE(*(*db)->get(new_key));
}

// An envelope that does not open cannot be attributed by its message ID alone: another peer's envelope with an ID
// alice delivered (here a blocked one's) is rejected, not taken for alice's copy and acked to her.
TEST(node_dedup, a_copy_that_is_not_the_senders_is_rejected_not_acked) {
  test::temp_dir tmp("node");
  trio t(tmp, "ddx");
  ASSERT_TRUE(t.alice && t.bob && t.carol);
  ASSERT_TRUE(send_with_id(*t.alice, "alice: invoice #1"));
  ASSERT_TRUE(t.bob->receive(10s));
  EXPECT_TRUE(eventually([&] { return delivered(*t.alice); }));
  outsider eve(9);
  add_contact(*t.bob, eve.card, trust_state::blocked);
  auto their = e2ee::verify_card(e2ee::card_from_text(t.bob->card()).value(), system_env()->now_unix_ms()).value();
  std::array<std::uint8_t, 16> id{};
  id[15] = 1;  // shared_id
  auto env = eve.engine->seal(t.bob->id(), &their, delivery::frame_message(as_bytes(std::string("eve"))), id,
                              system_env()->now_unix_ms() + 60000);
  ASSERT_TRUE(env) << env.err().what();
  ASSERT_EQ(*e2ee::peek_message_id(*env), shared_id);
  inject(*t.bob, "/memory/ddx-bob", *env);
  EXPECT_TRUE(eventually([&] { return t.bob->status()->frames_rejected == 1u; }));
}
