// bench/relay: direct vs relayed throughput (see throughput.hpp).
#include "throughput.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "p2p/protobuf.hpp"
#include "p2p/relay_client.hpp"
#include "p2p/relay_server.hpp"

namespace aqua::bench {
namespace {

using namespace aqua::p2p;
using clk = std::chrono::steady_clock;

// relay_client_config{}.max_channel_buffer: the direct sender queues as much as a channel does.
const std::size_t send_buffer = relay_client_config{}.max_channel_buffer;

double secs(clk::duration d) { return std::chrono::duration<double>(d).count(); }

// What both runs share: B's count, the first error, the timestamps. Loop
// threads write the counts; `done`/`error` are published under the mutex.
struct run_state {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t expected = 0, received = 0, received_bytes = 0;
  bool done = false;
  std::string error;
  std::string circuit_addr;  // relayed: B's address once reserved
  clk::time_point started{}, finished{};

  void on_frame(std::size_t size) {
    ++received;
    received_bytes += size;
    if (received == expected) {
      std::lock_guard lk(mu);
      finished = clk::now();
      done = true;
      cv.notify_all();
    }
  }
  void mark_started() {
    std::lock_guard lk(mu);
    started = clk::now();
  }
  void fail(const std::string& why) {
    std::lock_guard lk(mu);
    if (error.empty()) error = why;
    cv.notify_all();
  }
  template <class P>
  bool wait(P pred, clk::time_point until) {
    std::unique_lock lk(mu);
    return cv.wait_until(lk, until, [&] { return pred() || !error.empty(); }) && error.empty();
  }
};

keypair key(std::uint8_t seed) { return keypair::from_seed(bytes(32, seed)).value(); }

// ---- direct: the channel layer of relay_client, on a plain stream ----

// Sender: frames queued in `out` up to send_buffer, written as the stream takes them.
struct direct_sender {
  tcp_host* host = nullptr;
  conn_id conn = 0;
  std::uint32_t stream = 0;
  bytes frame, out;
  std::size_t sent = 0, total = 0;
  run_state* st = nullptr;

  void flush() {
    if (out.empty()) return;
    auto n = host->write(conn, stream, out);
    if (!n) return st->fail("direct: write: " + n.err().what());
    out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*n));
  }
  void pump() {
    while (sent < total) {
      if (!out.empty() && out.size() + frame.size() + 10 > send_buffer) return;  // relay_client: would_block
      bytes f = aqua_msg_frame(frame);
      const std::size_t at = out.size();
      out.resize(at + f.size());
      std::memcpy(out.data() + at, f.data(), f.size());
      flush();
      ++sent;
    }
  }
};

// Receiver: relay_client::on_channel_data's parsing (each frame copied out).
struct direct_receiver {
  bytes in;
  run_state* st = nullptr;

  void on_data(bytes_view data) {
    in.insert(in.end(), data.begin(), data.end());
    std::size_t pos = 0;
    std::vector<bytes> frames;
    while (pos < in.size()) {
      auto len = pb::read_varint(bytes_view(in).subspan(pos));
      if (!len) break;
      if (in.size() - pos - len->length < len->value) break;
      const auto begin = in.begin() + static_cast<std::ptrdiff_t>(pos + len->length);
      frames.emplace_back(begin, begin + static_cast<std::ptrdiff_t>(len->value));
      pos += len->length + static_cast<std::size_t>(len->value);
    }
    in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(pos));
    for (auto& f : frames) st->on_frame(f.size());
  }
};

}  // namespace

throughput_result run_direct(std::size_t messages, std::size_t size, double timeout_s) {
  run_state st;
  st.expected = messages;
  const auto t0 = clk::now();
  const auto until = t0 + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(timeout_s));
  const keypair ka = key(11), kb = key(12);
  direct_sender snd;
  snd.frame = bytes(size, 0xab);
  snd.total = messages;
  snd.st = &st;
  direct_receiver rcv;
  rcv.st = &st;

  tcp_host_config bcfg;
  bcfg.p2p.protocols = {std::string(aqua_msg_protocol_id)};
  tcp_host_callbacks bcb;
  bcb.on_event = [&](conn_id, p2p_event& ev) {
    if (ev.kind == p2p_event_kind::stream_data) rcv.on_data(ev.data);
    if (ev.kind == p2p_event_kind::stream_reset) st.fail("direct: B's stream reset: " + ev.reason);
  };
  tcp_host b(kb, system_env(), bcfg, bcb);

  tcp_host_callbacks acb;
  tcp_host* a_ptr = nullptr;
  acb.on_established = [&](conn_id c, const peer_id&, bool) {
    auto s = a_ptr->open_stream(c, {std::string(aqua_msg_protocol_id)});
    if (!s) st.fail("direct: open_stream: " + s.err().what());
  };
  acb.on_event = [&](conn_id c, p2p_event& ev) {
    if (ev.kind == p2p_event_kind::stream_opened && !ev.inbound) {
      snd.host = a_ptr;
      snd.conn = c;
      snd.stream = ev.stream_id;
      st.mark_started();
      snd.pump();
    } else if (ev.kind == p2p_event_kind::writable && ev.stream_id == snd.stream) {
      snd.flush();
      if (snd.out.size() < send_buffer / 2) snd.pump();
    } else if (ev.kind == p2p_event_kind::stream_reset) {
      st.fail("direct: A's stream reset: " + ev.reason);
    }
  };
  acb.on_closed = [&](conn_id, const error& e) { st.fail("direct: connection closed: " + e.what()); };
  tcp_host a(ka, system_env(), tcp_host_config{}, acb);
  a_ptr = &a;

  throughput_result r;
  auto fail = [&](std::string why) {
    r.error = std::move(why);
    return r;
  };
  if (auto s = b.start(); !s) return fail("direct: start B: " + s.err().what());
  if (auto s = a.start(); !s) return fail("direct: start A: " + s.err().what());
  auto port = b.call([&] { return b.listen("127.0.0.1", 0); });
  if (!port) return fail("direct: listen: " + port.err().what());
  dial_options opts;
  opts.expected = kb.id();
  if (auto c = a.call([&] { return a.dial("127.0.0.1", *port, opts); }); !c) return fail("direct: dial: " + c.err().what());
  const bool ok = st.wait([&] { return st.done; }, until);
  a.stop();
  b.stop();
  std::lock_guard lk(st.mu);
  if (!ok) return fail(st.error.empty() ? "direct: timed out after " + std::to_string(st.received) + " of " +
                                              std::to_string(messages) + " messages"
                                        : st.error);
  r.ok = true;
  r.messages = st.received;
  r.bytes = st.received_bytes;
  r.seconds = secs(st.finished - st.started);
  r.setup_seconds = secs(st.started - t0);
  return r;
}

throughput_result run_relayed(std::size_t messages, std::size_t size, double timeout_s) {
  run_state st;
  st.expected = messages;
  const auto t0 = clk::now();
  const auto until = t0 + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(timeout_s));
  const keypair kr = key(10), ka = key(11), kb = key(12);
  throughput_result r;
  auto fail = [&](std::string why) {
    r.error = std::move(why);
    return r;
  };

  relay_server_config scfg;
  scfg.listen = {"/ip4/127.0.0.1/tcp/0"};
  scfg.hop.limited = false;  // no Limit: the circuit carries the whole run
  relay_server rs(kr, system_env(), scfg);
  if (auto s = rs.start(); !s) return fail("relayed: relay start: " + s.err().what());
  const std::string relay_addr = rs.addresses().at(0);

  relay_client_config bcfg;
  bcfg.relays = {relay_addr};
  bcfg.fetch_mail = false;
  relay_client_callbacks bcb;
  bcb.on_addresses = [&](const std::vector<std::string>& addrs) {
    if (addrs.empty()) return;
    std::lock_guard lk(st.mu);
    st.circuit_addr = addrs[0];
    st.cv.notify_all();
  };
  bcb.on_frame = [&](channel_id, bytes f) { st.on_frame(f.size()); };
  bcb.on_channel_closed = [&](channel_id, const error& e) { st.fail("relayed: B's channel closed: " + e.what()); };
  relay_client b(kb, system_env(), bcfg, bcb);

  relay_client_config acfg;
  acfg.fetch_mail = false;
  relay_client_callbacks acb;
  relay_client* a_ptr = nullptr;
  const bytes frame(size, 0xab);
  std::size_t sent = 0;
  channel_id out_ch = 0;
  auto pump = [&] {
    while (sent < messages) {
      auto s = a_ptr->send(out_ch, frame);
      if (!s) {
        if (s.err().code() != errc::would_block) st.fail("relayed: send: " + s.err().what());
        return;  // would_block: on_writable follows
      }
      ++sent;
    }
  };
  acb.on_channel_open = [&](channel_id ch, const peer_id&, bool inbound) {
    if (inbound) return;
    out_ch = ch;
    st.mark_started();
    pump();
  };
  acb.on_writable = [&](channel_id) { pump(); };
  acb.on_channel_closed = [&](channel_id, const error& e) { st.fail("relayed: A's channel closed: " + e.what()); };
  relay_client a(ka, system_env(), acfg, acb);
  a_ptr = &a;

  if (auto s = b.start(); !s) return fail("relayed: start B: " + s.err().what());
  if (auto s = a.start(); !s) return fail("relayed: start A: " + s.err().what());
  if (!st.wait([&] { return !st.circuit_addr.empty(); }, until))
    return fail(st.error.empty() ? "relayed: B got no reservation in time" : st.error);
  std::string target;
  {
    std::lock_guard lk(st.mu);
    target = st.circuit_addr;
  }
  if (auto ch = a.dial(target); !ch) return fail("relayed: dial " + target + ": " + ch.err().what());
  const bool ok = st.wait([&] { return st.done; }, until);
  const auto relayed_bytes = rs.stats().bytes_relayed;
  a.stop();
  b.stop();
  rs.stop();
  std::lock_guard lk(st.mu);
  if (!ok) return fail(st.error.empty() ? "relayed: timed out after " + std::to_string(st.received) + " of " +
                                              std::to_string(messages) + " messages"
                                        : st.error);
  if (relayed_bytes < st.received_bytes) return fail("relayed: the relay spliced fewer bytes than B received");
  r.ok = true;
  r.messages = st.received;
  r.bytes = st.received_bytes;
  r.seconds = secs(st.finished - st.started);
  r.setup_seconds = secs(st.started - t0);
  return r;
}

} // namespace aqua::bench
