#include "raw_zmq.hpp"

#include <zmq.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

namespace bench {

using clk = std::chrono::steady_clock;

double raw_push_pull(std::size_t n, std::size_t size) {
  zmq::context_t ctx(1);
  zmq::socket_t pull(ctx, zmq::socket_type::pull), push(ctx, zmq::socket_type::push);
  pull.bind("tcp://127.0.0.1:*");
  push.connect(pull.get(zmq::sockopt::last_endpoint));
  std::vector<char> payload(size, 'x');
  auto t0 = clk::now();
  std::thread receiver([&] {
    zmq::message_t m;
    for (std::size_t i = 0; i < n; ++i) (void) pull.recv(m);
  });
  for (std::size_t i = 0; i < n; ++i) push.send(zmq::buffer(payload), zmq::send_flags::none);
  receiver.join();
  return static_cast<double>(n) / std::chrono::duration<double>(clk::now() - t0).count();
}

std::vector<double> raw_req_rep(std::size_t n, std::size_t size) {
  zmq::context_t ctx(1);
  zmq::socket_t rep(ctx, zmq::socket_type::rep), req(ctx, zmq::socket_type::req);
  rep.bind("tcp://127.0.0.1:*");
  req.connect(rep.get(zmq::sockopt::last_endpoint));
  std::thread server([&] {
    zmq::message_t m;
    for (std::size_t i = 0; i < n + 10; ++i) {
      (void) rep.recv(m);
      rep.send(m, zmq::send_flags::none);
    }
  });
  std::vector<char> payload(size, 'x');
  std::vector<double> us;
  zmq::message_t m;
  for (std::size_t i = 0; i < n + 10; ++i) {
    auto t0 = clk::now();
    req.send(zmq::buffer(payload), zmq::send_flags::none);
    (void) req.recv(m);
    if (i >= 10) us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
  }
  server.join();
  return us;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[idx];
}

} // namespace bench
