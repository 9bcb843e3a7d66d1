// load_engine: the E2EE engine's state in the store (e/meta, e/s/<id>).
#include <gtest/gtest.h>

#include "identity/keypair.hpp"
#include "store/engine_store.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;

TEST(engine_store, a_new_store_gets_an_engine_that_later_loads_are_given_back) {
  test::temp_dir tmp("engine-store");
  auto db = store::db::open(tmp.path() / "s");
  ASSERT_TRUE(db) << db.err().what();
  const auto kp = keypair::generate();
  auto first = store::load_engine(**db, kp.pub(), system_env(), {});
  ASSERT_TRUE(first) << first.err().what();
  auto again = store::load_engine(**db, kp.pub(), system_env(), {});
  ASSERT_TRUE(again) << again.err().what();
  EXPECT_EQ(again->self(), kp.id());
}

TEST(engine_store, sessions_without_their_engine_record_are_refused_not_dropped_for_a_fresh_engine) {
  // A store that lost e/meta (damage, a bad edit) started a fresh engine and ignored every session: peers'
  // messages never opened again, and nothing said why.
  test::temp_dir tmp("engine-store");
  auto db = store::db::open(tmp.path() / "s");
  ASSERT_TRUE(db) << db.err().what();
  leveldb::WriteBatch b;
  b.Put(store::hex_key("e/s/", 1), "a session");
  b.Put(store::hex_key("e/s/", 2), "another");
  ASSERT_TRUE((*db)->write(std::move(b)));
  auto r = store::load_engine(**db, keypair::generate().pub(), system_env(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_session_state);
  EXPECT_NE(r.err().message().find("holds 2 E2EE sessions but not the engine record they belong to (e/meta)"),
            std::string::npos) << r.err().what();
  auto meta = (*db)->get("e/meta");
  ASSERT_TRUE(meta);
  EXPECT_FALSE(meta->has_value());  // nothing written
}

TEST(engine_store, messages_without_any_engine_state_are_refused) {
  // e/meta and every e/s/ gone, the inbox still there: a fresh engine started silently and no session opened.
  test::temp_dir tmp("engine-store");
  auto db = store::db::open(tmp.path() / "s");
  ASSERT_TRUE(db) << db.err().what();
  leveldb::WriteBatch b;
  b.Put(store::hex_key("i/", 1), "a message record");
  ASSERT_TRUE((*db)->write(std::move(b)));
  auto r = store::load_engine(**db, keypair::generate().pub(), system_env(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::bad_session_state);
  EXPECT_NE(r.err().message().find("holds messages but no E2EE state (e/meta)"), std::string::npos) << r.err().what();
}

TEST(engine_store, a_store_of_another_identity_names_both) {
  test::temp_dir tmp("engine-store");
  auto db = store::db::open(tmp.path() / "s");
  ASSERT_TRUE(db) << db.err().what();
  const auto mine = keypair::generate(), other = keypair::generate();
  ASSERT_TRUE(store::load_engine(**db, mine.pub(), system_env(), {}));
  auto r = store::load_engine(**db, other.pub(), system_env(), {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.err().message().find("belongs to " + mine.id().str() + ", not to this node's key (" + other.id().str() +
                                   "): the key file was replaced"),
            std::string::npos) << r.err().what();
}
