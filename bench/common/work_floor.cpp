#include "work_floor.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "framework/e2ee/e2ee_fixture.hpp"
#include "store/store.hpp"

namespace bench {
namespace {

using clk = std::chrono::steady_clock;

std::string key_for(const char* prefix, std::size_t i) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%016zx", prefix, i);
  return buf;
}

} // namespace

double session_seal_open_rate(std::size_t n, const aqua::bytes& msg, std::size_t reply_every, bool steps_when_idle) {
  auto env = std::make_shared<aqua::deterministic_env>(3);
  auto alice = aqua::test::party::make(0, env);
  auto bob = aqua::test::party::make(1, env);
  auto card = bob.verified_card(env->now_unix_ms());
  auto first = alice.engine.seal(bob.id(), &card, msg, aqua::test::msg_id(0), env->now_unix_ms() + 3600000);
  (void) bob.engine.open(*first);
  clk::duration idle{};
  auto when_idle = [&](aqua::e2ee::engine& e, const aqua::peer_id& peer) {
    if (!steps_when_idle) return;
    auto t0 = clk::now();
    (void) e.complete_pending_step(peer);
    idle += clk::now() - t0;
  };
  auto t = clk::now();
  for (std::size_t i = 1; i <= n; ++i) {
    auto env_bytes = alice.engine.seal(bob.id(), nullptr, msg, aqua::test::msg_id(static_cast<std::uint32_t>(i)),
                                       env->now_unix_ms() + 3600000);
    auto opened = bob.engine.open(*env_bytes);
    if (!opened || opened->payload.size() != msg.size()) {
      std::fprintf(stderr, "ratchet open failed at %zu: %s\n", i, opened ? "size" : opened.err().what().c_str());
      std::exit(1);
    }
    when_idle(bob.engine, alice.id());
    if (reply_every != 0 && i % reply_every == 0) {  // replies make both sides take DH ratchet steps
      auto r = bob.engine.seal(alice.id(), nullptr, msg, aqua::test::msg_id(static_cast<std::uint32_t>(i) | 0x80000000u),
                               env->now_unix_ms() + 3600000);
      (void) alice.engine.open(*r);
      when_idle(alice.engine, bob.id());
    }
  }
  return static_cast<double>(n) / std::chrono::duration<double>(clk::now() - t - idle).count();
}

std::vector<double> synced_writes_us(aqua::store::db& db, std::size_t n, std::size_t size) {
  std::string value(size, 'v');
  std::vector<double> us;
  us.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    leveldb::WriteBatch b;
    b.Put(key_for("o/single/", i), value);
    auto t = clk::now();
    if (auto r = db.write_unbatched(b); !r) {
      std::fprintf(stderr, "%s\n", r.err().what().c_str());
      std::exit(1);
    }
    us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t).count());
  }
  return us;
}

group_commit_figures group_commit(aqua::store::db& db, std::size_t n, std::size_t size, std::size_t in_flight) {
  std::string value(size, 'v');
  std::mutex m;
  std::condition_variable cv;
  std::size_t outstanding = 0, done = 0;
  group_commit_figures out;
  auto before = db.stats();
  auto t0 = clk::now();
  for (std::size_t i = 0; i < n; ++i) {
    {
      std::unique_lock<std::mutex> g(m);
      cv.wait(g, [&] { return outstanding < in_flight; });
      ++outstanding;
    }
    leveldb::WriteBatch b;
    b.Put(key_for("o/group/", i), value);
    db.submit(std::move(b), [&](const aqua::result<void>& r) {
      std::lock_guard<std::mutex> g(m);
      --outstanding;
      ++done;
      if (!r) ++out.failed;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> g(m);
    cv.wait(g, [&] { return done == n; });
  }
  out.per_second = static_cast<double>(n) / std::chrono::duration<double>(clk::now() - t0).count();
  auto after = db.stats();
  out.batches = after.batches - before.batches;
  out.writes = after.writes - before.writes;
  return out;
}

} // namespace bench
