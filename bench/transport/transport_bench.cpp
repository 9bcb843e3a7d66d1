// bench/transport: end-to-end encrypted, durable 1 KiB messages between two
// aqua nodes in two processes over the zmq transport (Noise-authenticated
// TCP on 127.0.0.1), against raw cppzmq in the same run:
//   throughput   aqua send -> receiver's durable inbox   vs  raw PUSH/PULL
//   latency      aqua request -> reply (both durable)    vs  raw REQ/REP
// Every aqua message is sealed (double ratchet), persisted with fsync before
// it counts as queued, persisted again by the receiver before the app sees it,
// and acknowledged end to end. Runs once with the stores on the default temp
// dir (disk) and once on /dev/shm (tmpfs: the same work minus the fsync
// cost), so the messaging overhead and the durability cost are both visible.
// Last, the floors: the work every message needs whatever the plumbing
// (seal + open, two synced 1 KiB records, the raw transport; for a round
// trip also four synced writes in a row and two DH ratchet steps), each
// measured alone in this run, give a throughput ceiling and a round-trip floor.
//   bench_transport [messages=20000] [round trips=300] [size=1024] [sender threads=64]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "aqua/node.hpp"
#include "e2ee/card.hpp"
#include "identity/key_store.hpp"
#include "raw_zmq.hpp"
#include "transport_alone.hpp"
#include "store/store.hpp"
#include "bench_args.hpp"
#include "work_floor.hpp"

namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

namespace {

struct params {
  std::size_t messages = 20000, round_trips = 300, size = 1024, threads = 64;
};

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void) ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);  // port 0: the system picks a free one
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

void write_text(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

aqua::peer_id make_node_dir(const fs::path& dir, const std::string& name, int port, const aqua::peer_id* other,
                            int other_port) {
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all);
  auto kp = aqua::keypair::generate();
  (void) aqua::write_key_file(dir / "identity.key", kp, true);
  std::string routes = other ? "[{peer: " + other->str() + ", address: /ip4/127.0.0.1/tcp/" +
                                 std::to_string(other_port) + "}]"
                             : "[]";
  write_text(dir / "config.yaml", "node: {name: " + name + ", log_level: error}\ncomponents:\n  routing:\n    routes: " +
                                    routes + "\ntransports:\n  - plugin: zmq\n    listen: [/ip4/127.0.0.1/tcp/" +
                                    std::to_string(port) + "]\n");
  return kp.id();
}


// The receiving daemon: counts `p.messages`, then answers pings until "quit".
int run_receiver(const fs::path& dir, const params& p, int to_parent) {
  auto cfg = aqua::load_config(dir / "config.yaml");
  if (!cfg) return 2;
  auto n = aqua::node::start(*cfg);
  if (!n) {
    std::fprintf(stderr, "receiver: %s\n", n.err().what().c_str());
    return 3;
  }
  write_text(dir / "card.txt", (*n)->card());
  (void) !::write(to_parent, "R", 1);
  std::uint64_t after = 0;
  std::size_t got = 0;
  auto deadline = clk::now() + std::chrono::minutes(5);
  bool know_sender = false;
  while (got < p.messages && clk::now() < deadline) {
    if (!know_sender && fs::exists(dir.parent_path() / "a" / "card.txt"))  // the sender's card (as `aqua contacts add`)
      know_sender = static_cast<bool>((*n)->add_contact(read_text(dir.parent_path() / "a" / "card.txt")));
    auto batch = (*n)->watch(after, 4096, std::chrono::milliseconds(1000));
    if (batch && batch->empty())
      if (auto st = (*n)->status())
        std::fprintf(stderr, "  ... receiver: %zu stored, %zu connections, %llu frames in, %llu rejected, %llu sent, %llu waiting, %llu blocked\n",
                     got, st->connections, static_cast<unsigned long long>(st->frames_received),
                     static_cast<unsigned long long>(st->frames_rejected), static_cast<unsigned long long>(st->frames_sent),
                     static_cast<unsigned long long>(st->frames_waiting), static_cast<unsigned long long>(st->connections_blocked));
    if (!batch) continue;
    for (auto& m : *batch) after = m.sequence;
    got += batch->size();
  }
  (void) !::write(to_parent, got >= p.messages ? "D" : "F", 1);
  // Echo what arrives from now on. watch(after) skips the throughput
  // messages, which are stored but unread: receive() would hand those out
  // first, and echoing them would answer the sender's pings with stale bytes.
  while (clk::now() < deadline) {
    auto batch = (*n)->watch(after, 1, std::chrono::milliseconds(1000));
    if (!batch || batch->empty()) continue;
    auto& m = batch->front();
    after = m.sequence;
    if (m.payload == aqua::bytes{'q', 'u', 'i', 't'}) break;
    (void) (*n)->send(m.sender, std::move(m.payload));
  }
  (*n)->stop();
  return 0;
}

// Waits for one byte from the receiver; `progress` runs every few seconds meanwhile.
bool wait_byte(int fd, char want, int seconds, const std::function<void()>& progress = {}) {
  auto end = clk::now() + std::chrono::seconds(seconds);
  while (clk::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) > 0) {
      char c = 0;
      return ::read(fd, &c, 1) == 1 && c == want;
    }
    if (progress) progress();
  }
  return false;
}

// CPU time (user + system) a process has used so far, in microseconds;
// robust against other load where wall-clock rates are not.
double cpu_us(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), {});
  auto close = s.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(s.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) * 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct aqua_result {
  double msgs_per_s = 0, queued_per_s = 0, p50 = 0, p99 = 0;
  double sender_cpu_us = 0, receiver_cpu_us = 0;  // per delivered message, throughput phase
  bool ok = false;
};

aqua_result run_aqua(const fs::path& base, const params& p) {
  aqua_result out;
  fs::remove_all(base);
  int pa = free_port(), pb = free_port();
  auto idb = make_node_dir(base / "b", "bench-b", pb, nullptr, 0);
  auto ida = make_node_dir(base / "a", "bench-a", pa, &idb, pb);
  // b routes back to a as well
  write_text(base / "b" / "config.yaml",
             read_text(base / "b" / "config.yaml").replace(read_text(base / "b" / "config.yaml").find("routes: []"), 10,
                                                            "routes: [{peer: " + ida.str() + ", address: /ip4/127.0.0.1/tcp/" +
                                                              std::to_string(pa) + "}]"));
  int pipe_fd[2];
  if (::pipe(pipe_fd) != 0) return out;
  // The receiver is this binary again, exec'd (a plain fork would inherit
  // half-initialised library state: LevelDB's compaction thread, ZeroMQ, CAF).
  auto pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fd[0]);
    auto dir = (base / "b").string();
    auto n = std::to_string(p.messages), fd = std::to_string(pipe_fd[1]);
    ::execl("/proc/self/exe", "bench_transport", "--receiver", dir.c_str(), n.c_str(), fd.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(pipe_fd[1]);
  auto finish = [&] {
    ::close(pipe_fd[0]);
    int status = 0;
    for (int i = 0; i < 300 && ::waitpid(pid, &status, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (::waitpid(pid, &status, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);  // only the child this bench started
      ::waitpid(pid, &status, 0);
    }
    fs::remove_all(base);
  };
  if (!wait_byte(pipe_fd[0], 'R', 60)) {
    std::fprintf(stderr, "receiver did not start\n");
    finish();
    return out;
  }
  auto cfg = aqua::load_config(base / "a" / "config.yaml");
  auto a = aqua::node::start(*cfg);
  if (!a) {
    std::fprintf(stderr, "sender: %s\n", a.err().what().c_str());
    finish();
    return out;
  }
  if (auto c = (*a)->add_contact(read_text(base / "b" / "card.txt")); !c) {
    std::fprintf(stderr, "sender: %s\n", c.err().what().c_str());
    finish();
    return out;
  }
  write_text(base / "a" / "card.txt.tmp", (*a)->card());  // the receiver adds it (rename: never half-written)
  fs::rename(base / "a" / "card.txt.tmp", base / "a" / "card.txt");
  std::atomic<std::size_t> failures{0};
  auto t0 = clk::now();
  double cpu_a0 = cpu_us(::getpid()), cpu_b0 = cpu_us(pid);
  std::vector<std::thread> senders;
  for (std::size_t t = 0; t < p.threads; ++t)
    senders.emplace_back([&, t] {
      aqua::bytes payload(p.size, static_cast<std::uint8_t>(t));
      for (std::size_t i = t; i < p.messages; i += p.threads)
        if (!(*a)->send(idb, payload, std::chrono::seconds(60))) ++failures;
    });
  for (auto& s : senders) s.join();
  auto queued = clk::now();
  bool delivered = wait_byte(pipe_fd[0], 'D', 300, [&] {
    if (auto st = (*a)->status())
      std::fprintf(stderr, "  ... sender: %zu connections, %llu frames sent, %llu received, %llu pending\n",
                   st->connections, static_cast<unsigned long long>(st->frames_sent),
                   static_cast<unsigned long long>(st->frames_received), static_cast<unsigned long long>(st->outbox_pending));
  });
  auto t1 = clk::now();
  out.sender_cpu_us = (cpu_us(::getpid()) - cpu_a0) / static_cast<double>(p.messages);
  out.receiver_cpu_us = (cpu_us(pid) - cpu_b0) / static_cast<double>(p.messages);
  out.queued_per_s = static_cast<double>(p.messages) / std::chrono::duration<double>(queued - t0).count();
  out.msgs_per_s = static_cast<double>(p.messages) / std::chrono::duration<double>(t1 - t0).count();
  std::vector<double> us;
  for (std::size_t i = 0; i < p.round_trips + 10 && delivered; ++i) {
    aqua::bytes ping(p.size, 'p');
    std::snprintf(reinterpret_cast<char*>(ping.data()), ping.size(), "ping %zu", i);  // each reply must be this one's
    auto r0 = clk::now();
    if (!(*a)->send(idb, ping)) break;
    auto reply = (*a)->receive(std::chrono::seconds(10));
    if (!reply || reply->payload != ping) {
      std::fprintf(stderr, "round trip %zu: %s\n", i, reply ? "the reply is not this ping's echo" : reply.err().what().c_str());
      break;
    }
    if (i >= 10) us.push_back(std::chrono::duration<double, std::micro>(clk::now() - r0).count());
  }
  (void) (*a)->send(idb, aqua::bytes{'q', 'u', 'i', 't'});
  out.p50 = bench::percentile(us, 0.5);
  out.p99 = bench::percentile(us, 0.99);
  out.ok = delivered && failures == 0 && us.size() == p.round_trips;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the quit message leave
  (*a)->stop();
  finish();
  return out;
}

struct store_floor {
  double sync_p50_us = 0, group_per_s = 0;
};

// Synced-write latency and group-commit rate of 1 KiB records in a fresh store under `dir`.
store_floor measure_store(const fs::path& dir, const params& p) {
  store_floor out;
  auto where = dir.string() + "-floor";
  fs::remove_all(where);
  auto db = aqua::store::db::open(where);
  if (!db) {
    std::fprintf(stderr, "floor store: %s\n", db.err().what().c_str());
    return out;
  }
  out.sync_p50_us = bench::percentile(bench::synced_writes_us(**db, std::max<std::size_t>(p.round_trips, 100), p.size), 0.5);
  out.group_per_s = bench::group_commit(**db, std::max<std::size_t>(p.messages * 2, 5000), p.size, 4096).per_second;
  db->reset();
  fs::remove_all(where);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  params p;
  const aqua::bench::args a(argc, argv, "bench_transport [messages=20000] [round trips=300] [size=1024] [sender threads=64]");
  if (argc == 5 && std::string(argv[1]) == "--receiver") {  // the receiving process this program starts
    p.messages = a.parse(argv[3], "messages", 1, 100000000);
    return run_receiver(argv[2], p, static_cast<int>(a.parse(argv[4], "fd", 0, 65535)));
  }
  a.at_most(4);
  p.messages = a.count(1, "messages", p.messages, 1, 100000000);
  p.round_trips = a.count(2, "round trips", p.round_trips, 1, 10000000);
  p.size = a.count(3, "size", p.size, 1, 1u << 20);
  p.threads = a.count(4, "sender threads", p.threads, 1, 1024);
  std::vector<std::pair<std::string, fs::path>> runs{
    {"disk", fs::temp_directory_path() / ("aqua-bench-transport-" + std::to_string(::getpid()))}};
  if (fs::is_directory("/dev/shm")) runs.push_back({"tmpfs", fs::path("/dev/shm") / ("aqua-bench-transport-" + std::to_string(::getpid()))});
  std::vector<aqua_result> results;
  std::vector<store_floor> floors;
  for (auto& [label, dir] : runs) results.push_back(run_aqua(dir, p));
  for (auto& [label, dir] : runs) floors.push_back(measure_store(dir, p));
  double seal_open = bench::session_seal_open_rate(std::max<std::size_t>(p.messages, 2000), aqua::bytes(p.size, 0x5a), 0);
  // Request, reply, request, ...: every message turns the conversation round,
  // so each one opens with a Double Ratchet DH step (three X25519 operations,
  // one of which the ack sealed after the durable write takes, off the path).
  double ping_pong = bench::session_seal_open_rate(std::max<std::size_t>(p.round_trips, 200), aqua::bytes(p.size, 0x5a), 1,
                                                   true);
  double raw = bench::raw_push_pull(std::max<std::size_t>(p.messages * 5, 10000), p.size);
  auto raw_rtt = bench::raw_req_rep(std::max<std::size_t>(p.round_trips, 100), p.size);
  double raw_p50 = bench::percentile(raw_rtt, 0.5), raw_p99 = bench::percentile(raw_rtt, 0.99);
  auto alone = bench::zmq_transport_rtt(std::max<std::size_t>(p.round_trips, 100), p.size);
  std::printf("bench/transport: %zu x %zu-byte messages, %zu round trips, %zu sender threads\n", p.messages, p.size,
              p.round_trips, p.threads);
  std::printf("  raw cppzmq PUSH/PULL tcp 127.0.0.1:  %10.0f msg/s\n", raw);
  std::printf("  raw cppzmq REQ/REP round trip:       p50 %7.1f us  p99 %7.1f us\n", raw_p50, raw_p99);
  bool all_ok = true;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    auto& r = results[i];
    all_ok = all_ok && r.ok;
    std::printf("  aqua E2EE+durable, stores on %-5s   %10.0f msg/s delivered (%.0f msg/s queued)  ratio %.3f x raw%s\n",
                runs[i].first.c_str(), r.msgs_per_s, r.queued_per_s, r.msgs_per_s / raw, r.ok ? "" : "  [FAILED]");
    std::printf("      CPU per delivered message: sender %.1f us, receiver %.1f us\n", r.sender_cpu_us,
                r.receiver_cpu_us);
    std::printf("  aqua request/reply, stores on %-5s  p50 %7.1f us  p99 %7.1f us  (%.1f x / %.1f x raw)\n",
                runs[i].first.c_str(), r.p50, r.p99, r.p50 / raw_p50, r.p99 / raw_p99);
  }
  // Every delivered message is sealed and opened once, written durably at
  // least twice (the sender's outbox record, the receiver's inbox record),
  // and crosses the transport; a durable round trip waits for four synced
  // writes in a row (request: outbox, inbox; reply: outbox, inbox), two
  // seal+open with a DH ratchet step each, and the raw round trip.
  double crypto_rtt_us = 1e6 / ping_pong;
  std::printf("  floors (each part measured alone in this run, one thread):\n");
  if (alone.empty()) std::printf("    zmq transport alone: [FAILED]\n");
  else
    std::printf("    zmq transport alone (Noise link, I/O threads, in one process): round trip p50 %7.1f us  p99 %7.1f us\n",
                bench::percentile(alone, 0.5), bench::percentile(alone, 0.99));
  std::printf("    seal + open, session layer:         %10.0f msg/s one way; request+reply (DH ratchet steps) %6.1f us\n",
              seal_open, crypto_rtt_us);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    auto& f = floors[i];
    double per_msg_us = 1e6 / seal_open + 2e6 / f.group_per_s + 1e6 / raw;
    double ceiling = 2 * 1e6 / per_msg_us;  // both cores busy with nothing else
    std::printf("    %-5s: synced write p50 %6.1f us, group commit %8.0f records/s -> throughput ceiling on 2 cores "
                "%8.0f msg/s (%.2f x raw), round-trip floor %7.1f us\n",
                runs[i].first.c_str(), f.sync_p50_us, f.group_per_s, ceiling, ceiling / raw,
                raw_p50 + 4 * f.sync_p50_us + crypto_rtt_us);
  }
  return all_ok && !alone.empty() ? 0 : 1;
}
