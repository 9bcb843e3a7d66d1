#!/usr/bin/env python3
"""Routing as `aqua doctor PEER` reports it, with real daemons (docs/routing.md):
  * a daemon configured with zmq only reaches its agents over an added dial-only loopback transport;
  * a co-hosted agent stays on the in-process loopback path after an idle spell longer than the happy-eyeballs
    suspect time, although its card also has a zmq address;
  * a zmq peer whose daemon was stopped is not reported connected once routing has seen it stop answering;
  * a daemon that restarts reaches a peer without an address of its own over the connection that peer dialled,
    which comes back by itself (docs/transports.md, "Resuming").
Usage: test_routing.py <aqua>"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import daemons
from daemons import aqua, free_port

SUSPECT_S = 3.0  # routing's suspect_after_ms (framework/src/actors/routing_parts.hpp)


def doctor_path(d, peer):
    return json.loads(aqua(d, "doctor", peer, "--json"))["path"]


def request_frame(corr):
    """An agent request (docs/agents.md, "Wire format") of a type the data agent refuses: it answers with an error."""
    return json.dumps({"aqua_agent": 1, "kind": "request", "corr": corr, "type": "nosuch", "from": "test",
                       "deadline_ms": int(time.time() * 1000) + 60000, "body": ""})


def wait_for(what, fn, timeout=30.0):
    """Polls fn() until it returns something true (bounded): that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Routing(daemons.Processes):
    def serve_introduced(self, tmp, a, b):
        """Daemons a (alias "alice" at b) and b ("bob" at a), each with the other's card: (process a, process b)."""
        with open(os.path.join(tmp, "a.log"), "w") as la, open(os.path.join(tmp, "b.log"), "w") as lb:
            proc_a, ev_a = self.start(a, la, "serve")
            proc_b, ev_b = self.start(b, lb, "serve")
        aqua(a, "contacts", "add", ev_b["card"], "--alias", "bob")
        aqua(b, "contacts", "add", ev_a["card"], "--alias", "alice")
        return proc_a, proc_b

    def test_a_co_hosted_agent_is_still_reached_over_loopback_after_an_idle_spell(self):
        with tempfile.TemporaryDirectory(prefix="aqua-routing-") as tmp:
            d = os.path.join(tmp, "d")
            aqua(d, "init", "--listen", "/memory/routing-test", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            with open(os.path.join(d, "config.yaml"), "a") as f:
                f.write("agents:\n  - plugin: data\n    listen: [/ip4/127.0.0.1/tcp/0]\n")
            with open(os.path.join(tmp, "serve.log"), "w") as log:
                proc, _ = self.start(d, log, "serve")
            # The agents start after "serving": their cards reach the daemon's contacts then.
            agent = wait_for("the agent's card", lambda: [
                c for c in json.loads(aqua(d, "contacts", "list", "--json"))["contacts"] if c["alias"] == "data"])[0]
            peer = agent["peer_id"]
            self.assertTrue(any(a.startswith("/ip4/") for a in agent["addresses"]), agent)
            memory = f"/memory/{peer}"
            for i in range(2):
                # The agent answers the request: the daemon acks that answer, the last frame on its connection.
                aqua(d, "send", "data", request_frame(f"{i:032x}"), "--topic", "aqua.agent.v1")
                wait_for("the agent's answer", lambda: json.loads(aqua(d, "inbox", "list", "--json"))["messages"][i:])
                path = doctor_path(d, peer)
                self.assertEqual((path["last_path"], path["last_address"]), ("direct", memory), path)
                self.assertTrue(path["connected"], path)
                self.assertTrue(path["connection"].startswith("loopback "), path)
                if i == 0:
                    time.sleep(SUSPECT_S + 0.5)  # the idle spell under test, not a synchronisation
            self.stop_all(proc)

    def test_a_daemon_with_only_zmq_reaches_its_agents_in_process(self):
        # `aqua init --listen /ip4/...` writes a zmq transport only; the agents' cards list /memory/<id> first,
        # which zmq cannot dial (bad_address): until 2026-11-28 every request timed out and was retried for its TTL.
        with tempfile.TemporaryDirectory(prefix="aqua-routing-") as tmp:
            d = os.path.join(tmp, "d")
            aqua(d, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            with open(os.path.join(d, "config.yaml"), "a") as f:
                f.write("agents:\n  - plugin: data\n")
            with open(os.path.join(tmp, "serve.log"), "w") as log:
                proc, ev = self.start(d, log, "serve")
            self.assertFalse(any(a.startswith("/memory/") for a in ev["listen"]), ev)  # dial-only: the card is as was
            agent = wait_for("the agent's card", lambda: [
                c for c in json.loads(aqua(d, "contacts", "list", "--json"))["contacts"] if c["alias"] == "data"])[0]
            out = json.loads(aqua(d, "send", "data", request_frame("%032x" % 7), "--topic", "aqua.agent.v1", "--wait",
                                  "--timeout", "20s", "--json"))
            self.assertEqual(out["state"], "delivered", out)
            wait_for("the agent's answer", lambda: json.loads(aqua(d, "inbox", "list", "--json"))["messages"])
            path = doctor_path(d, agent["peer_id"])
            self.assertEqual((path["last_path"], path["last_address"]), ("direct", f"/memory/{agent['peer_id']}"), path)
            self.stop_all(proc)
            with open(os.path.join(tmp, "serve.log")) as f:
                self.assertIn("no loopback transport: added a dial-only one", f.read())

    def test_doctor_says_a_stopped_zmq_peer_is_not_connected_once_it_leaves_a_message_unanswered(self):
        with tempfile.TemporaryDirectory(prefix="aqua-routing-") as tmp:
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            aqua(a, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            aqua(b, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            proc_a, proc_b = self.serve_introduced(tmp, a, b)
            # alice dials bob; bob answers on that connection; alice's last frame on it is her ack of his message
            aqua(a, "send", "bob", "hello bob", "--wait")
            aqua(b, "send", "alice", "hello alice", "--wait")
            path = doctor_path(a, "bob")
            self.assertTrue(path["connected"], path)
            self.assertTrue(path["connection"].startswith("zmq "), path)
            self.assertGreaterEqual(path["heard_ms_ago"], 0, path)
            time.sleep(SUSPECT_S + 0.5)  # the idle spell under test: an ack expects no answer
            path = doctor_path(a, "bob")
            self.assertEqual((path["connected"], path["unanswered_ms"]), (True, 0), path)
            self.assertGreaterEqual(path["heard_ms_ago"], SUSPECT_S * 1000, path)
            self.stop_all(proc_b)
            # ZeroMQ keeps alice's dialled connection "open"; a message bob never answers shows what routing knows
            aqua(a, "send", "bob", "are you there?")
            path = wait_for("doctor to report bob not connected",
                            lambda: (lambda p: None if p["connected"] else p)(doctor_path(a, "bob")))
            self.assertTrue(path["connection"].startswith("zmq "), path)
            self.assertGreaterEqual(path["unanswered_ms"], SUSPECT_S * 1000, path)
            self.assertIn("has not answered for", path["decision"])
            text = aqua(a, "doctor", "bob")
            self.assertIn("(silent), last heard", text)
            own = json.loads(aqua(a, "id", "--json"))["peer_id"]
            p = subprocess.run([daemons.AQUA, "--dir", a, "doctor", own], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("is this node itself", p.stderr)
            self.stop_all(proc_a)

    def test_a_restarted_daemon_reaches_a_peer_without_an_address_over_the_connection_that_peer_dialled(self):
        with tempfile.TemporaryDirectory(prefix="aqua-routing-") as tmp:
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            aqua(a, "init")  # an in-process address only: b cannot dial a
            with open(os.path.join(a, "config.yaml"), "a") as f:
                f.write("  - plugin: zmq\n")  # a can dial (a transport with no listen address)
            aqua(b, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            proc_a, proc_b = self.serve_introduced(tmp, a, b)
            aqua(a, "send", "bob", "hello bob", "--wait")  # a dials b
            self.stop_all(proc_b)
            with open(os.path.join(tmp, "b2.log"), "w") as lb:
                proc_b, _ = self.start(b, lb, "serve")
            # Until 2026-11-28 a's connection stayed silent until a sent again: b could not reach a at all.
            path = wait_for("a's connection to come back", lambda: (lambda p: p if p["connection"] else None)(
                doctor_path(b, "alice")))
            self.assertGreaterEqual(path["heard_ms_ago"], 0, path)  # its handshake counts as hearing from a
            out = json.loads(aqua(b, "send", "alice", "back again", "--wait", "--timeout", "20s", "--json"))
            self.assertEqual(out["state"], "delivered", out)
            texts = [m["text"] for m in json.loads(aqua(a, "inbox", "list", "--json"))["messages"]]
            self.assertEqual(texts, ["back again"])
            self.stop_all(proc_a, proc_b)


if __name__ == "__main__":
    daemons.AQUA = sys.argv.pop(1)
    unittest.main(verbosity=2)
