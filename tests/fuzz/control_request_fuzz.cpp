// Fuzz target: the control API (docs/api/control.md) as a client's bytes
// reach it: the server's line splitter, JSON parsing, then handler::handle
// against a running node (loopback transport, temp data dir, started once,
// with three messages in its inbox and one contact). The node is real, so
// this target runs only under the deterministic driver (the libFuzzer build
// is AQUA_FUZZ_ONLY, without the actor framework).
//
// Properties, for every input:
// - the splitter yields exactly the input's '\n'-separated lines ('\r' before
//   the '\n' dropped), in two chunks as one;
// - every non-empty line gets one response object echoing the request's id,
//   with a boolean "ok" and a "result", or an "error" whose code is a stable
//   errc name and whose message is not empty;
// - no command lets an exception out ("request not handled": an unguarded
//   JSON access) and every response serializes to JSON that parses again;
// - the node still answers "hello" afterwards.
// Commands that may block are bounded: a "timeout_ms" over 20 ms, or a wait
// without one, becomes 20 ms (the API's waits themselves are not under test).
#include <spdlog/spdlog.h>

#include <cstring>
#include <memory>
#include <string>

#include "aqua/node.hpp"
#include "control/control_handler.hpp"
#include "control/control_json.hpp"
#include "control/control_server.hpp"
#include "core/json_text.hpp"
#include "fuzz_target.hpp"
#include "identity/key_store.hpp"
#include "support/test_dirs.hpp"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Routes come from the cards (they carry the /memory listen address).
std::unique_ptr<aqua::node> start_node(const aqua::test::temp_dir& tmp, const std::string& name, std::uint8_t seed) {
  auto dir = tmp.path() / name;
  auto key = aqua::keypair::from_seed(aqua::bytes(32, seed));
  AQUA_FUZZ_CHECK(key && aqua::ensure_private_dir(dir) && aqua::write_key_file(dir / aqua::key_file_name, *key, true));
  aqua::test::write_text(dir / aqua::config_file_name,
                         "components:\n  relay: {serve: false}\n"
                         "transports:\n  - plugin: loopback\n    listen: [/memory/fuzz-control-" + name + "]\n");
  auto cfg = aqua::load_config(dir / aqua::config_file_name);
  if (!cfg) std::fprintf(stderr, "control fuzz: %s\n", cfg.err().what().c_str());
  AQUA_FUZZ_CHECK(cfg);
  auto n = aqua::node::start(*cfg);
  if (!n) std::fprintf(stderr, "control fuzz: %s\n", n.err().what().c_str());
  AQUA_FUZZ_CHECK(n);
  return std::move(*n);
}

// The node under test ("self") and a peer it knows, which has sent it three
// messages: inbox.read/ack/delete and sends find real records.
struct world {
  aqua::test::temp_dir tmp{"fuzz-control"};
  std::unique_ptr<aqua::node> peer, self;
  std::unique_ptr<aqua::control::handler> handler;

  world() {
    spdlog::set_level(spdlog::level::err);
    peer = start_node(tmp, "peer", 0x51);
    self = start_node(tmp, "self", 0x52);
    AQUA_FUZZ_CHECK(self->add_contact(peer->card(), "peer") && peer->add_contact(self->card(), "self"));
    for (const char* text : {"one", "two", "three"})
      AQUA_FUZZ_CHECK(peer->send(self->id(), aqua::bytes(text, text + std::strlen(text))));
    for (int i = 0; i < 3; ++i) AQUA_FUZZ_CHECK(self->receive(10s));
    handler = std::make_unique<aqua::control::handler>(*self, tmp.path() / "self");
  }
};

// Created by the first input, destroyed by aqua_fuzz_teardown() before main
// returns: a node destroyed during static destruction crashes (aqua/node.hpp).
std::unique_ptr<world> the_world_;
world& the_world() {
  if (!the_world_) the_world_ = std::make_unique<world>();
  return *the_world_;
}

// What line_splitter must yield: the '\n'-separated lines, '\r' before '\n' dropped.
std::vector<std::string> reference_lines(const std::string& in) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (auto nl = in.find('\n'); nl != std::string::npos; at = nl + 1, nl = in.find('\n', at)) {
    auto line = in.substr(at, nl - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
  }
  return out;
}

void bound_waits(json& req) {
  if (!req.is_object()) return;
  auto t = req.find("timeout_ms");
  if (t != req.end() && t->is_number() && !(t->is_number_integer() && t->get<std::int64_t>() <= 20)) *t = 20;
  if (t == req.end() && req.contains("wait")) req["timeout_ms"] = 20;
}

void check_response(const json& req, const json& resp) {
  AQUA_FUZZ_CHECK(resp.is_object());
  AQUA_FUZZ_CHECK(resp.contains("id") && resp["id"] == aqua::control::request_id(req));
  AQUA_FUZZ_CHECK(resp.contains("ok") && resp["ok"].is_boolean());
  if (resp["ok"].get<bool>()) {
    AQUA_FUZZ_CHECK(resp.contains("result"));
  } else {
    const auto& e = resp["error"];
    AQUA_FUZZ_CHECK(e.is_object() && e["code"].is_string() && e["message"].is_string());
    AQUA_FUZZ_CHECK(aqua::errc_from_string(e["code"].get<std::string>()).has_value());
    const auto message = e["message"].get<std::string>();
    AQUA_FUZZ_CHECK(!message.empty());
    AQUA_FUZZ_CHECK(message.rfind("request not handled", 0) != 0);
  }
  AQUA_FUZZ_CHECK(!json::parse(aqua::detail::json_text(resp), nullptr, false).is_discarded());
}

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

} // namespace

std::vector<std::vector<std::uint8_t>> aqua_fuzz_seeds() {
  auto& w = the_world();
  const auto peer = w.peer->id().str();
  const auto card = json(w.peer->card()).dump();
  return {
    bytes_of("{\"id\":1,\"cmd\":\"hello\"}\n{\"id\":2,\"cmd\":\"status\"}\n{\"id\":\"c\",\"cmd\":\"card\"}\n"),
    bytes_of("{\"id\":3,\"cmd\":\"send\",\"to\":\"peer\",\"text\":\"hi\",\"ttl_s\":60,\"topic\":\"t\"}\n"),
    bytes_of("{\"id\":4,\"cmd\":\"send\",\"to\":\"" + peer + "\",\"payload_hex\":\"00ff10\",\"wait\":true,"
             "\"timeout_ms\":5,\"message_id\":\"00112233445566778899aabbccddeeff\"}\r\n"),
    bytes_of("{\"id\":5,\"cmd\":\"inbox.list\",\"unread\":true,\"limit\":2,\"since\":1}\n"
             "{\"id\":6,\"cmd\":\"inbox.read\",\"seq\":2}\n{\"id\":7,\"cmd\":\"inbox.ack\",\"seq\":1}\n"),
    bytes_of("{\"id\":8,\"cmd\":\"inbox.delete\",\"seq\":3}\n{\"id\":9,\"cmd\":\"receive\",\"timeout_ms\":1}\n"
             "{\"id\":10,\"cmd\":\"outbox.list\"}\n{\"id\":11,\"cmd\":\"watch\",\"since\":2}\n"),
    bytes_of("{\"id\":12,\"cmd\":\"contacts.list\"}\n{\"id\":13,\"cmd\":\"contacts.show\",\"who\":\"peer\"}\n"
             "{\"id\":14,\"cmd\":\"contacts.verify\",\"who\":\"" + peer + "\"}\n"),
    bytes_of("{\"id\":15,\"cmd\":\"contacts.add\",\"card\":" + card + ",\"alias\":\"again\"}\n"
             "{\"id\":16,\"cmd\":\"contacts.block\",\"who\":\"again\"}\n{\"id\":17,\"cmd\":\"contacts.remove\",\"who\":\"x\"}\n"),
    bytes_of("{\"id\":[1,{\"a\":null}],\"cmd\":\"doctor\"}\n[]\nnot json\n{\"cmd\":1}\n\n"),
  };
}

extern "C" void aqua_fuzz_teardown() { the_world_.reset(); }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& w = the_world();
  const std::string in(reinterpret_cast<const char*>(data), size);
  aqua::control::line_splitter lines(aqua::control::max_line_bytes);
  const auto half = size / 2;
  AQUA_FUZZ_CHECK(lines.feed(in.data(), half) && lines.feed(in.data() + half, size - half));
  std::vector<std::string> got;
  for (std::string line; lines.next(line);) got.push_back(line);
  AQUA_FUZZ_CHECK(got == reference_lines(in));

  for (const auto& line : got) {
    if (line.empty()) continue;  // the server skips blank lines
    auto parsed = aqua::control::parse_request(line);
    // Refused by the server itself (not JSON, too deep, a repeated key, an inexact number id): invalid_argument.
    if (!parsed) {
      AQUA_FUZZ_CHECK(parsed.err().code() == aqua::errc::invalid_argument && !parsed.err().message().empty());
      continue;
    }
    auto& req = *parsed;
    bound_waits(req);
    auto cmd = req.is_object() ? req.find("cmd") : req.end();
    if (cmd != req.end() && cmd->is_string() && *cmd == "watch") {  // the server streams; only its start is parsed
      auto after = w.handler->watch_start(req);
      AQUA_FUZZ_CHECK(after || after.err().code() == aqua::errc::invalid_argument);
      continue;
    }
    check_response(req, w.handler->handle(req));
  }
  auto hello = w.handler->handle(json{{"id", 0}, {"cmd", "hello"}});
  AQUA_FUZZ_CHECK(hello["ok"] == true);
  return 0;
}
