// outbox.list through the control handler against a real node and store: a page is bounded in records and in
// bytes, so records with long last errors cannot make a response line longer than clients read.
#include <gtest/gtest.h>

#include <leveldb/write_batch.h>

#include "../node/node_fixture.hpp"
#include "control/control_handler.hpp"
#include "control/control_server.hpp"
#include "delivery/outbox.hpp"
#include "store/store.hpp"

using namespace aqua;
using namespace aqua::test::node_fixture;

TEST(control_outbox, pages_are_bounded_in_bytes_when_records_carry_long_errors) {
  test::temp_dir tmp("control-outbox");
  auto cfg = make_node_dir(tmp, "alice", yaml_for("/memory/page-alice", ""), 0);
  // 700 expired records whose last error is as long as it may be and doubles in size as JSON ('"' escapes):
  // ~8 KiB each, ~6 MB in all — more than a line (control::max_line_bytes, 4 MiB) if listed in one page.
  const std::size_t n = 700;
  ASSERT_TRUE(node::start(cfg));  // a node that ran (its E2EE state is there: messages without it are refused)
  {
    auto db = store::db::open(cfg.data_dir / store::dir_name);
    ASSERT_TRUE(db) << db.err().what();
    leveldb::WriteBatch b;
    for (std::size_t i = 0; i < n; ++i) {
      delivery::out_record r;
      char id[33];
      std::snprintf(id, sizeof id, "%032zx", i + 1);
      r.message_id = id;
      r.recipient = seed_key(3).id().str();
      r.state = delivery::out_state::expired;
      r.created_ms = 1;
      r.expires_ms = 2;
      r.seq = i + 1;
      r.last_error = std::string(delivery::out_record::max_last_error, '"');
      auto enc = r.encode(false);
      b.Put("o/" + r.message_id, leveldb::Slice(reinterpret_cast<const char*>(enc.data()), enc.size()));
    }
    ASSERT_TRUE((*db)->write(std::move(b)));
  }
  auto a = node::start(cfg);
  ASSERT_TRUE(a) << a.err().what();
  control::handler h(**a, cfg.data_dir);
  std::vector<std::string> ids;
  nlohmann::json req{{"id", 1}, {"cmd", "outbox.list"}};
  for (int pages = 0; pages < 10; ++pages) {
    auto resp = h.handle(req);
    ASSERT_TRUE(resp["ok"].get<bool>()) << resp.dump().substr(0, 300);
    const auto line = resp.dump();
    EXPECT_LE(line.size(), control::max_line_bytes / 2 + 16384) << "page " << pages;
    auto& page = resp["result"];
    ASSERT_FALSE(page["messages"].empty());
    for (auto& m : page["messages"]) {
      ids.push_back(m["message_id"].get<std::string>());
      EXPECT_EQ(m["last_error"].get<std::string>().size(), delivery::out_record::max_last_error);
    }
    if (!page["more"].get<bool>()) break;
    EXPECT_EQ(page["next_after"], ids.back());
    req["after"] = page["next_after"];
  }
  ASSERT_EQ(ids.size(), n);  // every record once, in order, over several pages
  for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_LT(ids[i - 1], ids[i]);
}
