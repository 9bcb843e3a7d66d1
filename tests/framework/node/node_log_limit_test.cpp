// A peer chooses how many bad frames it sends: the node's log must not grow
// with them (core/log_limit.hpp; before, 100,000 tiny frames wrote 12.8 MB).
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "framework/node/node_fixture.hpp"

using namespace aqua;
using namespace std::chrono_literals;
using namespace aqua::test::node_fixture;

namespace {

std::size_t count(const std::string& log, const std::string& what) {
  std::size_t n = 0;
  for (auto at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
  return n;
}

// Captures what the default logger writes while it lives.
struct log_capture {
  std::ostringstream out;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  log_capture() { spdlog::default_logger()->sinks().push_back(sink); }
  ~log_capture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
  }
  std::string text() {
    spdlog::default_logger()->flush();
    return out.str();
  }
};

} // namespace

TEST(node_log, a_flood_of_bad_frames_and_envelopes_writes_a_bounded_number_of_log_lines) {
  test::temp_dir tmp("node-log");
  auto bob = node::start(make_node_dir(tmp, "bob", read_file(AQUA_SOURCE_DIR "/configs/two-nodes/bob.yaml"), 1));
  ASSERT_TRUE(bob) << bob.err().what();
  outsider carol(2);
  raw_link link("/memory/two-nodes-bob");
  auto tampered = carol.seal_for(**bob, "genuine", 1);
  tampered[tampered.size() - 20] ^= 0x01;
  log_capture log;
  constexpr std::size_t n = 500;
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(eventually([&] { return link.conn->send(bytes{'j', 'u', 'n', 'k'}).has_value(); }));
    ASSERT_TRUE(eventually([&] { return link.conn->send(tampered).has_value(); }));
  }
  ASSERT_TRUE(eventually([&] { return (*bob)->status()->frames_rejected == 2 * n; }, 20s))
    << (*bob)->status()->frames_rejected;
  const auto text = log.text();
  const auto frames = count(text, "routing: rejected frame"), envelopes = count(text, "inbox: rejected envelope");
  EXPECT_GE(frames, 1u);
  EXPECT_LE(frames, 40u) << "one line per junk frame";
  EXPECT_GE(envelopes, 1u);
  EXPECT_LE(envelopes, 40u) << "one line per bad envelope";
  std::printf("%zu bad frames and %zu bad envelopes: %zu + %zu log lines\n", n, n, frames, envelopes);
}
