#include <gtest/gtest.h>

#include <fstream>

#include "../e2ee/e2ee_fixture.hpp"
#include "contacts/contact_store.hpp"
#include "store/store.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;

namespace {

std::shared_ptr<store::db> open_db(const std::filesystem::path& dir) {
  auto db = store::db::open(dir);
  EXPECT_TRUE(db) << db.err().what();
  return std::shared_ptr<store::db>(std::move(*db));
}

struct fixture {
  std::shared_ptr<deterministic_env> env = std::make_shared<deterministic_env>(7);
  test::party alice = test::party::make(0, env);
  test::party bob = test::party::make(1, env);
  std::string text(const test::party& p) { return e2ee::card_to_text(*e2ee::decode_card(p.card)); }
};

} // namespace

TEST(contact_store, contacts_and_trust_survive_reopening_the_store) {
  test::temp_dir tmp("contacts");
  fixture f;
  {
    auto cs = contact_store::open(open_db(tmp.path() / "store"));
    ASSERT_TRUE(cs) << cs.err().what();
    ASSERT_TRUE((*cs)->add(f.text(f.alice), "alice", f.env->now_unix_ms()));
    ASSERT_TRUE((*cs)->add(f.text(f.bob), "", f.env->now_unix_ms(), trust_state::verified));
    ASSERT_TRUE((*cs)->set_trust("alice", trust_state::blocked));
  }
  auto cs = contact_store::open(open_db(tmp.path() / "store"));
  ASSERT_TRUE(cs) << cs.err().what();
  ASSERT_EQ((*cs)->all().size(), 2u);
  auto a = (*cs)->find("alice");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->trust, trust_state::blocked);
  auto b = (*cs)->find(f.bob.identity.id());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->trust, trust_state::verified);
  EXPECT_EQ(describe(*b).addresses, std::vector<std::string>{"/memory/p1"});
}

TEST(contact_store, removal_is_durable_and_unknown_names_are_not_found) {
  test::temp_dir tmp("contacts");
  fixture f;
  {
    auto cs = contact_store::open(open_db(tmp.path() / "store"));
    ASSERT_TRUE((*cs)->add(f.text(f.alice), "alice", f.env->now_unix_ms()));
    auto gone = (*cs)->remove("alice");
    ASSERT_TRUE(gone);
    EXPECT_EQ(*gone, f.alice.identity.id());
    EXPECT_EQ((*cs)->remove("alice").err().code(), errc::not_found);
  }
  auto cs = contact_store::open(open_db(tmp.path() / "store"));
  EXPECT_TRUE((*cs)->all().empty());
  EXPECT_EQ((*cs)->find("nobody").err().code(), errc::not_found);
}

TEST(contact_store, a_taken_alias_or_bad_card_is_refused_without_a_write) {
  test::temp_dir tmp("contacts");
  fixture f;
  auto cs = contact_store::open(open_db(tmp.path() / "store"));
  ASSERT_TRUE((*cs)->add(f.text(f.alice), "friend", f.env->now_unix_ms()));
  EXPECT_EQ((*cs)->add(f.text(f.bob), "friend", f.env->now_unix_ms()).err().code(), errc::conflict);
  EXPECT_FALSE((*cs)->add("aqua-card-v1:AAAA", "", f.env->now_unix_ms()));
  EXPECT_EQ((*cs)->all().size(), 1u);
}

TEST(contact_store, legacy_contacts_json_with_wrong_types_is_a_precise_error_not_an_exception) {
  test::temp_dir tmp("contacts");
  fixture f;
  auto legacy = tmp.path() / "contacts.json";
  auto entry = [&](const std::string& extra) {
    return R"({"trust": "verified", "card": ")" + f.text(f.alice) + "\"" + extra + "}";
  };
  for (auto& [json, expected] : std::vector<std::pair<std::string, std::string>>{
         {R"({"version": "1", "contacts": []})", "unknown version"},
         {R"({"version": 1, "contacts": [)" + entry(R"(, "alias": 7)") + "]}", "'alias' must be a string"},
         {R"({"version": 1, "contacts": [)" + entry(R"(, "added_ms": "soon")") + "]}", "'added_ms' an integer"},
         // Aliases follow the rules of 'contacts add' (a long one was imported, then every open failed).
         {R"({"version": 1, "contacts": [)" + entry(R"(, "alias": ")" + std::string(65, 'a') + "\"") + "]}",
          "must be 1-64 of [A-Za-z0-9._-]"},
         {R"({"version": 1, "contacts": [)" + entry(R"(, "alias": ")" + f.bob.identity.id().str() + "\"") + "]}",
          "not look like a peer ID"},
         {R"({"version": 1, "contacts": [)" + entry(R"(, "alias": "x")") + R"(, {"trust": "unverified", "card": ")" +
            f.text(f.bob) + R"(", "alias": "x"}]})", "entry 1: alias 'x' already names"}}) {
    {
      std::ofstream out(legacy);
      out << json;
    }
    auto cs = contact_store::open(open_db(tmp.path() / "store"), legacy);
    ASSERT_FALSE(cs) << json;
    EXPECT_NE(cs.err().message().find(expected), std::string::npos) << cs.err().what();
    EXPECT_TRUE(std::filesystem::exists(legacy));  // nothing imported: the file stays to be fixed
  }
}

TEST(contact_store, legacy_contacts_json_is_imported_once_and_renamed) {
  test::temp_dir tmp("contacts");
  fixture f;
  auto legacy = tmp.path() / "contacts.json";
  {
    std::ofstream out(legacy);
    out << R"({"version": 1, "contacts": [{"peer_id": ")" << f.alice.identity.id().str() << R"(", "alias": "al", "trust": "verified", "card": ")"
        << f.text(f.alice) << R"(", "added_ms": 5}]})";
  }
  {
    auto cs = contact_store::open(open_db(tmp.path() / "store"), legacy);
    ASSERT_TRUE(cs) << cs.err().what();
    auto a = (*cs)->find("al");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->trust, trust_state::verified);
    EXPECT_EQ(a->added_ms, 5);
  }
  EXPECT_FALSE(std::filesystem::exists(legacy));
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "contacts.json.imported"));
  auto cs = contact_store::open(open_db(tmp.path() / "store"), legacy);
  ASSERT_TRUE(cs);
  EXPECT_EQ((*cs)->all().size(), 1u);
}

TEST(contact_store, a_tampered_record_fails_the_open_with_its_key) {
  test::temp_dir tmp("contacts");
  fixture f;
  {
    auto cs = contact_store::open(open_db(tmp.path() / "store"));
    ASSERT_TRUE((*cs)->add(f.text(f.alice), "", f.env->now_unix_ms()));
  }
  {
    auto db = open_db(tmp.path() / "store");
    auto key = std::string(contact_prefix) + f.alice.identity.id().str();
    auto v = db->get(key);
    ASSERT_TRUE(v && *v);
    std::string bad = **v;
    bad[bad.size() - 10] ^= 0x01;  // inside the card's signature
    leveldb::WriteBatch b;
    b.Put(key, bad);
    ASSERT_TRUE(db->write(std::move(b)));
  }
  auto cs = contact_store::open(open_db(tmp.path() / "store"));
  ASSERT_FALSE(cs);
  EXPECT_NE(cs.err().message().find(f.alice.identity.id().str()), std::string::npos) << cs.err().what();
}

TEST(contact_record, decoding_rejects_every_truncation) {
  fixture f;
  contact c{f.alice.identity.id(), "al", trust_state::verified, f.alice.card, 9};
  auto rec = encode_contact_record(c);
  auto key = std::string(contact_prefix) + f.alice.identity.id().str();
  auto back = decode_contact_record(key, rec);
  ASSERT_TRUE(back) << back.err().what();
  EXPECT_EQ(back->alias, "al");
  for (std::size_t n = 0; n < rec.size(); ++n)
    EXPECT_FALSE(decode_contact_record(key, bytes_view(rec.data(), n))) << n;
  EXPECT_FALSE(decode_contact_record(std::string(contact_prefix) + f.bob.identity.id().str(), rec));  // card of another peer
}

TEST(contact_store, the_nodes_own_card_is_not_a_contact) {
  test::temp_dir tmp("contacts");
  fixture f;
  auto cs = contact_store::open(open_db(tmp.path() / "store"));
  ASSERT_TRUE(cs);
  (*cs)->set_owner(f.alice.identity.id());
  auto own = (*cs)->add(f.text(f.alice), "me", f.env->now_unix_ms());
  ASSERT_FALSE(own);
  EXPECT_EQ(own.err().code(), errc::invalid_argument);
  EXPECT_NE(own.err().message().find("own card"), std::string::npos) << own.err().what();
  EXPECT_TRUE((*cs)->add(f.text(f.bob), "bob", f.env->now_unix_ms()));
  EXPECT_EQ((*cs)->all().size(), 1u);
}
