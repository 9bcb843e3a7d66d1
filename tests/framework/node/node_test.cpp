// Actor-level tests: whole nodes (actor system + component actors +
// loopback plugin) started from YAML files in one process.
#include <set>

#include "framework/node/node_fixture.hpp"

using namespace aqua;
using namespace std::chrono_literals;
using namespace aqua::test::node_fixture;

TEST(node, encrypted_message_goes_from_a_to_b_over_loopback_and_b_authenticates_the_sender) {
  test::temp_dir tmp("node");
  auto a_cfg = make_node_dir(tmp, "alice", read_file(AQUA_SOURCE_DIR "/configs/two-nodes/alice.yaml"), 0);
  auto b_cfg = make_node_dir(tmp, "bob", read_file(AQUA_SOURCE_DIR "/configs/two-nodes/bob.yaml"), 1);
  auto bob = node::start(b_cfg);
  ASSERT_TRUE(bob) << bob.err().what();
  auto alice = node::start(a_cfg);
  ASSERT_TRUE(alice) << alice.err().what();
  EXPECT_EQ((*alice)->id().str(), "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN");
  EXPECT_EQ((*bob)->listen_addresses(), std::vector<std::string>{"/memory/two-nodes-bob"});
  EXPECT_EQ((*bob)->card().rfind("aqua-card-v1:", 0), 0u);
  introduce(**alice, **bob);

  auto id = (*alice)->send((*bob)->id(), bytes{'h', 'i'});
  ASSERT_TRUE(id) << id.err().what();
  auto got = (*bob)->receive(5s);
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_EQ(got->sender, (*alice)->id());
  EXPECT_EQ(got->message_id, *id);
  EXPECT_EQ(text(got->payload), "hi");
  EXPECT_EQ(got->transport, "loopback");
  EXPECT_EQ(got->trust, "unverified");
  EXPECT_FALSE(got->quarantined);

  // bob answers over the connection alice opened: no route needed.
  ASSERT_TRUE((*bob)->send((*alice)->id(), bytes{'y', 'o'}));
  auto reply = (*alice)->receive(5s);
  ASSERT_TRUE(reply) << reply.err().what();
  EXPECT_EQ(reply->sender, (*bob)->id());
  EXPECT_EQ(text(reply->payload), "yo");
}

TEST(node, rejects_garbage_tampered_and_replayed_envelopes_and_accepts_genuine_ones) {
  test::temp_dir tmp("node");
  auto bob = node::start(make_node_dir(tmp, "bob", read_file(AQUA_SOURCE_DIR "/configs/two-nodes/bob.yaml"), 1));
  ASSERT_TRUE(bob) << bob.err().what();
  outsider carol(2);
  add_contact(**bob, carol.card, trust_state::verified);
  raw_link link("/memory/two-nodes-bob");

  auto genuine = carol.seal_for(**bob, "genuine", 1);
  auto tampered = genuine;
  tampered[tampered.size() - 20] ^= 0x01;  // inside the ciphertext
  ASSERT_TRUE(link.conn->send(bytes{'j', 'u', 'n', 'k'}));
  ASSERT_TRUE(link.conn->send(tampered));
  ASSERT_TRUE(link.conn->send(genuine));
  ASSERT_TRUE(link.conn->send(genuine));  // replay: a duplicate, re-acked but never delivered twice

  auto got = (*bob)->receive(5s);
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_EQ(text(got->payload), "genuine");
  EXPECT_EQ(got->sender, carol.kp.id());
  EXPECT_EQ(got->trust, "verified");
  EXPECT_FALSE((*bob)->receive(200ms));
  auto st = (*bob)->status();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->frames_rejected, 2u);  // the junk and the tampered copy
  EXPECT_EQ(st->messages_received, 1u);  // stored once; frames_received counts every envelope for bob (3)
  EXPECT_EQ(st->frames_received, 3u);
  EXPECT_EQ((*bob)->inbox()->size(), 1u);
}

TEST(node, unknown_senders_are_quarantined_or_rejected_and_blocked_ones_rejected) {
  test::temp_dir tmp("node");
  auto q = node::start(make_node_dir(tmp, "q", yaml_for("/memory/q-node", ""), 1));
  auto r = node::start(make_node_dir(tmp, "r",
    "components: {crypto: {unknown_senders: reject}}\ntransports:\n  - plugin: loopback\n    listen: [/memory/r-node]\n", 3));
  ASSERT_TRUE(q && r);
  outsider mallory(9);
  raw_link lq("/memory/q-node"), lr("/memory/r-node");
  ASSERT_TRUE(lq.conn->send(mallory.seal_for(**q, "who am I", 1)));
  auto got = (*q)->receive(5s);
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_TRUE(got->quarantined);
  EXPECT_EQ(got->trust, "unknown");

  ASSERT_TRUE(lr.conn->send(mallory.seal_for(**r, "let me in", 2)));
  EXPECT_FALSE((*r)->receive(300ms));
  EXPECT_TRUE(eventually([&] { return (*r)->status()->frames_rejected == 1u; }));

  outsider eve(10);
  add_contact(**q, eve.card, trust_state::blocked);
  ASSERT_TRUE(lq.conn->send(eve.seal_for(**q, "blocked?", 3)));
  EXPECT_FALSE((*q)->receive(300ms));
  EXPECT_TRUE(eventually([&] { return (*q)->status()->frames_rejected == 1u; }));
}

TEST(node, sessions_survive_a_restart_of_both_nodes) {
  test::temp_dir tmp("node");
  auto a_cfg = make_node_dir(tmp, "alice", yaml_for("/memory/rs-alice", route(1, "/memory/rs-bob")), 0);
  auto b_cfg = make_node_dir(tmp, "bob", yaml_for("/memory/rs-bob", ""), 1);
  {
    auto bob = node::start(b_cfg);
    auto alice = node::start(a_cfg);
    ASSERT_TRUE(bob && alice);
    introduce(**alice, **bob);
    ASSERT_TRUE((*alice)->send((*bob)->id(), bytes{'1'}));
    ASSERT_TRUE((*bob)->receive(5s));
    ASSERT_TRUE((*bob)->send((*alice)->id(), bytes{'2'}));
    ASSERT_TRUE((*alice)->receive(5s));
  }
  auto bob = node::start(b_cfg);
  auto alice = node::start(a_cfg);
  ASSERT_TRUE(bob && alice);
  ASSERT_TRUE((*alice)->send((*bob)->id(), bytes{'3'}));
  auto got = (*bob)->receive(5s);
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_EQ(text(got->payload), "3");
}

TEST(node, many_messages_arrive_in_order_under_backpressure) {
  test::temp_dir tmp("node");
  auto b_cfg = make_node_dir(tmp, "bob",
    "components: {}\ntransports:\n  - plugin: loopback\n    listen: [/memory/bp-bob]\n    settings: {queue_frames: 16}\n", 1);
  auto a_cfg = make_node_dir(tmp, "alice", yaml_for("/memory/bp-alice", route(1, "/memory/bp-bob")), 0);
  auto bob = node::start(b_cfg);
  auto alice = node::start(a_cfg);
  ASSERT_TRUE(bob && alice);
  introduce(**alice, **bob);
  constexpr int n = 3000;
  for (int i = 0; i < n; ++i) {
    auto s = std::to_string(i);
    auto r = (*alice)->send((*bob)->id(), bytes(s.begin(), s.end()));
    ASSERT_TRUE(r) << i << ": " << r.err().what();
  }
  for (int i = 0; i < n; ++i) {
    auto got = (*bob)->receive(5s);
    ASSERT_TRUE(got) << i << ": " << got.err().what();
    ASSERT_EQ(text(got->payload), std::to_string(i));
  }
}

TEST(node, send_async_keeps_many_messages_in_flight_from_one_thread_in_order) {
  test::temp_dir tmp("node");
  auto [alice, bob] = start_introduced_pair(tmp, "async");
  ASSERT_TRUE(alice && bob);
  constexpr int n = 500;
  std::vector<send_ticket> tickets;
  for (int i = 0; i < n; ++i) {
    auto s = std::to_string(i);
    tickets.push_back(alice->send_async(bob->id(), bytes(s.begin(), s.end())));
  }
  std::vector<std::string> ids;
  for (auto& t : tickets) {
    auto id = t.wait(10s);
    ASSERT_TRUE(id) << id.err().what();
    EXPECT_TRUE(t.ready());
    EXPECT_EQ(*t.wait(0ms), *id);  // the outcome stays for the next wait
    ids.push_back(*id);
  }
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), std::size_t{n});
  for (int i = 0; i < n; ++i) {
    auto got = bob->receive(5s);
    ASSERT_TRUE(got) << i << ": " << got.err().what();
    ASSERT_EQ(text(got->payload), std::to_string(i));
    EXPECT_EQ(got->message_id, ids[static_cast<std::size_t>(i)]);
  }
  // A failure arrives through the ticket too, and an empty or stopped one says why.
  auto bad = alice->send_async(bob->id(), bytes{'x'}, send_options{5s, 0, "not-hex", {}});
  auto r = bad.wait(5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::invalid_argument);
  EXPECT_EQ(send_ticket().wait(0ms).err().code(), errc::invalid_argument);
  alice->stop();
  auto late = alice->send_async(bob->id(), bytes{'y'});
  EXPECT_TRUE(late.ready());
  EXPECT_EQ(late.wait(0ms).err().code(), errc::not_running);
}

TEST(node, relay_component_forwards_only_when_serving) {
  test::temp_dir tmp("node");
  // alice -> relay (seed 5) -> bob; alice's only route to bob is the relay's address.
  auto bob = node::start(make_node_dir(tmp, "bob", yaml_for("/memory/rl-bob", ""), 1));
  auto relay = node::start(make_node_dir(tmp, "relay", yaml_for("/memory/rl-relay", route(1, "/memory/rl-bob"), true), 5));
  auto alice = node::start(make_node_dir(tmp, "alice", yaml_for("/memory/rl-alice", route(1, "/memory/rl-relay")), 0));
  ASSERT_TRUE(bob && relay && alice);
  introduce(**alice, **bob);  // the relay knows neither card: it only sees envelopes
  ASSERT_TRUE((*alice)->send((*bob)->id(), bytes{'v', 'i', 'a'}));
  auto got = (*bob)->receive(5s);
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_EQ(got->sender, (*alice)->id());
  EXPECT_TRUE(eventually([&] { return (*relay)->status()->frames_forwarded == 1u; }));
  EXPECT_TRUE((*relay)->inbox()->empty());
  auto rs = (*relay)->status()->relay;  // the relay v2 server runs beside the envelope forwarding
  EXPECT_TRUE(rs.serving);
  ASSERT_EQ(rs.addresses.size(), 1u);
  EXPECT_EQ(rs.addresses[0].rfind("/ip4/127.0.0.1/tcp/", 0), 0u);
  EXPECT_NE(rs.addresses[0].find("/p2p/" + (*relay)->id().str()), std::string::npos);
  EXPECT_FALSE((*bob)->status()->relay.serving);

  auto bob2 = node::start(make_node_dir(tmp, "bob2", yaml_for("/memory/rl-bob2", ""), 1));
  auto norelay = node::start(make_node_dir(tmp, "norelay", yaml_for("/memory/rl-norelay", route(1, "/memory/rl-bob2"), false), 6));
  auto alice2 = node::start(make_node_dir(tmp, "alice2", yaml_for("/memory/rl-alice2", route(1, "/memory/rl-norelay")), 0));
  ASSERT_TRUE(bob2 && norelay && alice2);
  introduce(**alice2, **bob2);
  ASSERT_TRUE((*alice2)->send((*bob2)->id(), bytes{'x'}));
  auto none = (*bob2)->receive(300ms);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.err().code(), errc::timeout);
  EXPECT_TRUE(eventually([&] { return (*norelay)->status()->frames_rejected == 1u; }));
}

TEST(node, unreachable_messages_stay_queued_with_retries_until_they_expire) {
  test::temp_dir tmp("node");
  auto a = node::start(make_node_dir(tmp, "alice", yaml_for("/memory/nr-alice", ""), 0));
  ASSERT_TRUE(a);
  auto r = (*a)->send(seed_key(3).id(), bytes{1});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::unknown_session);  // no card, no session: nothing to encrypt to
  outsider stranger(3);
  add_contact(**a, stranger.card);
  // No route: durably queued all the same, retried with backoff, then expired at its TTL.
  auto r2 = (*a)->send(stranger.kp.id(), bytes{1}, 5s, 1500);
  ASSERT_TRUE(r2) << r2.err().what();
  auto state_of = [&] {
    auto list = (*a)->outbox();
    if (list)
      for (auto& m : *list)
        if (m.message_id == *r2) return std::make_pair(m.state, m.attempts);
    return std::make_pair(std::string("missing"), 0u);
  };
  EXPECT_TRUE(eventually([&] { return state_of().second >= 2; }));
  EXPECT_EQ(state_of().first, "sent");  // the live state, though attempts are written lazily
  EXPECT_TRUE(eventually([&] { return state_of().first == "expired"; }));
  EXPECT_EQ((*a)->status()->outbox_pending, 0u);
  // The expired record, read back from the store, still says why it never got through.
  auto list = (*a)->outbox();
  ASSERT_TRUE(list && list->size() == 1);
  EXPECT_NE(list->front().last_error.find("no connection to " + stranger.kp.id().str()), std::string::npos)
    << list->front().last_error;
  EXPECT_EQ(list->front().last_error.rfind("expired before " + stranger.kp.id().str() + " acknowledged it; last attempt: ", 0),
            0u) << list->front().last_error;
}

// Bob blocked alice: her frames reach him (the transport takes them) and he drops them unanswered. Her outbox
// must not show such a message as "sent" with nothing wrong: after a retry it says no ack came.
TEST(node, a_retried_message_the_transport_took_says_it_is_not_acknowledged) {
  test::temp_dir tmp("node");
  auto [alice, bob] = start_introduced_pair(tmp, "noack");
  ASSERT_TRUE(alice && bob);
  ASSERT_TRUE(bob->set_contact_trust(alice->id().str(), "blocked"));
  auto id = alice->send(bob->id(), bytes{1}, 5s, 600000);
  ASSERT_TRUE(id) << id.err().what();
  auto mine = [&] {
    auto list = alice->outbox();
    if (list)
      for (auto& m : *list)
        if (m.message_id == *id) return m;
    return outbound_message{};
  };
  EXPECT_TRUE(eventually([&] { return mine().attempts >= 2; }, 10s));
  auto m = mine();
  EXPECT_EQ(m.state, "sent");
  EXPECT_NE(m.last_error.find("not acknowledged after"), std::string::npos) << m.last_error;
  EXPECT_NE(m.last_error.find("aqua doctor " + bob->id().str()), std::string::npos) << m.last_error;
}

TEST(node, attempt_state_and_last_error_written_lazily_reach_the_store_on_stop) {
  test::temp_dir tmp("node");
  auto cfg = make_node_dir(tmp, "alice", yaml_for("/memory/lazy-alice", ""), 0);
  outsider stranger(3);
  std::string id;
  {
    auto a = node::start(cfg);
    ASSERT_TRUE(a);
    add_contact(**a, stranger.card);
    auto r = (*a)->send(stranger.kp.id(), bytes{1}, 5s, 600000);  // no route: retried, never delivered
    ASSERT_TRUE(r) << r.err().what();
    id = *r;
    ASSERT_TRUE(eventually([&] {
      auto list = (*a)->outbox();
      return list && list->size() == 1 && list->front().attempts >= 1;
    }));
    (*a)->stop();  // flushes the attempt bookkeeping the mailbox had not written yet
  }
  auto a = node::start(cfg);
  ASSERT_TRUE(a);
  auto list = (*a)->outbox();
  ASSERT_TRUE(list && list->size() == 1);
  EXPECT_EQ(list->front().message_id, id);
  EXPECT_EQ(list->front().state, "sent");
  EXPECT_GE(list->front().attempts, 1u);
  // Why the attempts failed outlives the restart (it was kept in memory only before 2026-11-27).
  EXPECT_NE(list->front().last_error.find("no connection to " + stranger.kp.id().str()), std::string::npos)
    << list->front().last_error;
}

TEST(node, receive_times_out_and_later_messages_are_not_lost) {
  test::temp_dir tmp("node");
  auto [alice, bob] = start_introduced_pair(tmp, "to");
  ASSERT_TRUE(alice && bob);
  auto r = bob->receive(50ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::timeout);
  ASSERT_TRUE(alice->send(bob->id(), bytes{'l', 'a', 't', 'e'}));
  auto got = bob->receive(5s);
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_EQ(text(got->payload), "late");
}

TEST(node, bad_setup_never_starts_a_half_node) {
  test::temp_dir tmp("node");
  auto missing_plugin = make_node_dir(tmp, "a", "components: {}\ntransports:\n  - plugin: nosuchplugin\n", 0);
  auto r = node::start(missing_plugin);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::plugin_not_found);

  auto no_key = make_node_dir(tmp, "b", yaml_for("/memory/hb-b", ""), 0);
  std::filesystem::remove(no_key.identity.key_file);
  auto r2 = node::start(no_key);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.err().code(), errc::no_identity);

  // Listen failure happens after spawning: the node must shut itself down
  // and release the first listener so the address can be reused.
  auto taken = node::start(make_node_dir(tmp, "c", yaml_for("/memory/hb-taken", ""), 0));
  ASSERT_TRUE(taken);
  auto clash = node::start(make_node_dir(tmp, "d", "components: {}\ntransports:\n  - plugin: loopback\n    listen: [/memory/hb-free, /memory/hb-taken]\n", 1));
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.err().code(), errc::address_in_use);
  const auto& why = clash.err().message();  // the address once, though the transport's own message names it too
  EXPECT_EQ(why.find("/memory/hb-taken"), why.rfind("/memory/hb-taken")) << why;
  EXPECT_NE(why.find("transport 'loopback'"), std::string::npos) << why;
  auto reuse = node::start(make_node_dir(tmp, "e", yaml_for("/memory/hb-free", ""), 2));
  EXPECT_TRUE(reuse) << reuse.err().what();
}

TEST(node, relay_server_that_cannot_listen_fails_the_start_and_frees_everything) {
  test::temp_dir tmp("node");
  auto first = node::start(make_node_dir(tmp, "a", yaml_for("/memory/rs-a", "", true), 0));
  ASSERT_TRUE(first) << first.err().what();
  const std::string taken = (*first)->status()->relay.addresses.at(0);
  const std::string port = taken.substr(taken.find("/tcp/") + 5, taken.find("/p2p/") - taken.find("/tcp/") - 5);
  auto cfg = "components:\n  relay: {serve: true, listen: [/ip4/127.0.0.1/tcp/" + port +
             "]}\ntransports:\n  - plugin: loopback\n    listen: [/memory/rs-b]\n";
  auto clash = node::start(make_node_dir(tmp, "b", cfg, 1));
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.err().code(), errc::address_in_use);
  EXPECT_NE(clash.err().message().find("relay: listen on /ip4/127.0.0.1/tcp/" + port), std::string::npos)
      << clash.err().what();
  first->reset();  // the first node's relay server releases its port
  auto again = node::start(make_node_dir(tmp, "c", cfg, 2));
  EXPECT_TRUE(again) << again.err().what();
}

TEST(node, messages_to_an_offline_peer_are_retried_and_delivered_exactly_once_when_it_starts) {
  test::temp_dir tmp("node");
  auto b_cfg = make_node_dir(tmp, "bob", yaml_for("/memory/off-bob", ""), 1);
  std::string bob_card;
  {
    auto bob = node::start(b_cfg);  // once, to learn bob's card, then bob goes offline
    ASSERT_TRUE(bob);
    bob_card = (*bob)->card();
  }
  auto alice = node::start(make_node_dir(tmp, "alice", yaml_for("/memory/off-alice", route(1, "/memory/off-bob")), 0));
  ASSERT_TRUE(alice);
  add_contact(**alice, bob_card);
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    auto id = (*alice)->send(seed_key(1).id(), bytes{static_cast<std::uint8_t>('a' + i)});
    ASSERT_TRUE(id) << id.err().what();
    ids.insert(*id);
  }
  EXPECT_EQ((*alice)->status()->outbox_pending, 20u);
  auto bob = node::start(b_cfg);
  ASSERT_TRUE(bob);
  add_contact(**bob, (*alice)->card());
  std::string got;
  for (int i = 0; i < 20; ++i) {
    auto m = (*bob)->receive(10s);
    ASSERT_TRUE(m) << i << ": " << m.err().what();
    EXPECT_TRUE(ids.count(m->message_id));
    got.push_back(static_cast<char>(m->payload.at(0)));
  }
  EXPECT_EQ(got, "abcdefghijklmnopqrst");  // in order, once each
  EXPECT_FALSE((*bob)->receive(500ms));  // retries and duplicates never reach the app twice
  EXPECT_TRUE(eventually([&] { return (*alice)->status()->outbox_pending == 0u; }));
  auto out = (*alice)->outbox();
  ASSERT_TRUE(out);
  for (auto& m : *out) EXPECT_EQ(m.state, "delivered") << m.message_id;
  EXPECT_EQ((*bob)->inbox()->size(), 20u);
}

TEST(node, the_inbox_survives_a_restart) {
  test::temp_dir tmp("node");
  auto a_cfg = make_node_dir(tmp, "alice", yaml_for("/memory/ib-alice", route(1, "/memory/ib-bob")), 0);
  auto b_cfg = make_node_dir(tmp, "bob", yaml_for("/memory/ib-bob", ""), 1);
  {
    auto bob = node::start(b_cfg);
    auto alice = node::start(a_cfg);
    ASSERT_TRUE(bob && alice);
    introduce(**alice, **bob);
    ASSERT_TRUE((*alice)->send((*bob)->id(), bytes{'k', 'e', 'e', 'p'}));
    ASSERT_TRUE(eventually([&] { return (*bob)->inbox()->size() == 1u; }));
  }
  auto bob = node::start(b_cfg);
  ASSERT_TRUE(bob);
  auto got = (*bob)->receive(2s);  // still unread after the restart
  ASSERT_TRUE(got) << got.err().what();
  EXPECT_EQ(text(got->payload), "keep");
  EXPECT_EQ((*bob)->inbox()->size(), 1u);
  auto again = (*bob)->read(got->sequence);
  ASSERT_TRUE(again) << again.err().what();
  EXPECT_EQ(again->message_id, got->message_id);
  ASSERT_TRUE((*bob)->remove(got->sequence));
  EXPECT_TRUE((*bob)->inbox()->empty());
  EXPECT_EQ((*bob)->read(got->sequence).err().code(), errc::not_found);
}
