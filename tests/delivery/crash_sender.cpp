// The sending side of the crash test (crash_test.py): a real process that
// starts a node from YAML and sends messages 0..N-1 to one peer, each with a
// message id derived from its number, so that after a SIGKILL a restart
// re-sends nothing twice (node::send is idempotent on the id). It exits 0
// once its outbox has drained (every message acknowledged).
//   crash_sender <config.yaml> <recipient peer ID> <N> [threads=8]

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "aqua/node.hpp"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: crash_sender <config.yaml> <recipient peer ID> <N> [threads]\n");
    return 2;
  }
  auto cfg = aqua::load_config(argv[1]);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.err().what().c_str());
    return 1;
  }
  auto to = aqua::peer_id::parse(argv[2]);
  if (!to) {
    std::fprintf(stderr, "%s\n", to.err().what().c_str());
    return 1;
  }
  long n = std::stol(argv[3]);
  int threads = argc > 4 ? std::stoi(argv[4]) : 8;
  auto node = aqua::node::start(*cfg);
  if (!node) {
    std::fprintf(stderr, "%s\n", node.err().what().c_str());
    return 1;
  }
  std::atomic<long> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      for (long k; (k = next++) < n && !failed;) {
        char id[33];
        std::snprintf(id, sizeof id, "%032lx", k);
        auto text = "message " + std::to_string(k);
        for (int attempt = 0;; ++attempt) {
          auto r = (*node)->send(*to, aqua::bytes(text.begin(), text.end()), std::chrono::seconds(30), 600000, id);
          if (r) break;
          if (attempt > 50) {
            std::fprintf(stderr, "send %ld: %s\n", k, r.err().what().c_str());
            failed = true;
            break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(20));  // would_block under backpressure
        }
      }
    });
  for (auto& w : workers) w.join();
  if (failed) return 1;
  std::printf("queued %ld messages\n", n);
  std::fflush(stdout);
  for (;;) {
    auto st = (*node)->status();
    if (st && st->outbox_pending == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("drained\n");
  return 0;
}
