#!/usr/bin/env python3
"""Two `aqua serve` daemons as separate processes on 127.0.0.1, driven through
their control API (the python3 example client) and the CLI:
  * init both, exchange cards, 1,000 messages each way, each delivered
    exactly once with the right sender;
  * every byte between them passes through a TCP tap in this test: no
    message text, topic or card ever crosses the wire in clear;
  * send/status without a daemon exit 5 with the hint; SIGTERM stops cleanly.
Usage: test_daemon.py <aqua> <source dir>"""
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import daemons
from daemons import aqua, aqua_stderr, free_port

AQUA = SRC = None
N = 1000


class Tap:
    """A TCP proxy 127.0.0.1:listen -> 127.0.0.1:target that records every byte both ways."""

    def __init__(self, target):
        self.target = target
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.captured = bytearray()
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        pairs = {}
        deadline = time.time() + 600  # bounded even if the test forgets to stop it
        while not self.stop and time.time() < deadline:
            socks = [self.server] + list(pairs)
            r, _, _ = select.select(socks, [], [], 0.1)
            for s in r:
                if s is self.server:
                    c, _ = s.accept()
                    try:
                        up = socket.create_connection(("127.0.0.1", self.target))
                    except OSError:  # the daemon behind it has stopped: refuse this one, keep tapping
                        c.close()
                        continue
                    pairs[c], pairs[up] = up, c
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    other = pairs.pop(s, None)
                    if other:
                        pairs.pop(other, None)
                        other.close()
                    s.close()
                    continue
                with self.lock:
                    self.captured += data
                pairs[s].sendall(data)
        for s in list(pairs):
            s.close()
        self.server.close()

    def close(self):
        self.stop = True
        self.thread.join(timeout=10)


def load_client():
    sys.path.insert(0, os.path.join(SRC, "examples", "control_client"))
    import aqua_client  # noqa: E402
    return aqua_client


class Daemon(unittest.TestCase):
    def start(self, d):
        p, ev = daemons.serve(d)
        self.procs.append(p)
        return p, ev

    def stop(self, p):
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.read())

    def setUp(self):
        self.procs = []

    def tearDown(self):
        for p in self.procs:  # only the daemons this test started, by PID
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
            p.stdout.close()
            p.stderr.close()

    def test_two_daemons_exchange_1000_messages_each_way_exactly_once_and_nothing_in_clear(self):
        client = load_client()
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            pa, pb = free_port(), free_port()
            ida = json.loads(aqua(a, "init", "--json", "--listen", f"/ip4/127.0.0.1/tcp/{pa}"))["peer_id"]
            idb = json.loads(aqua(b, "init", "--json", "--listen", f"/ip4/127.0.0.1/tcp/{pb}"))["peer_id"]
            # No daemon yet: commands that need one say so (exit 5).
            out = subprocess.run([AQUA, "--dir", a, "send", idb, "x"], capture_output=True, text=True)
            self.assertEqual(out.returncode, 5)
            self.assertIn(f"start one with 'aqua --dir {a} serve'", out.stderr)
            self.assertEqual(subprocess.run([AQUA, "--dir", a, "status"], capture_output=True).returncode, 5)
            # Every byte between the daemons goes through taps: static routes point at them.
            tap_to_a, tap_to_b = Tap(pa), Tap(pb)
            for d, peer, port in ((a, idb, tap_to_b.port), (b, ida, tap_to_a.port)):
                cfg = open(os.path.join(d, "config.yaml")).read()
                cfg = cfg.replace("routes: []", f"routes: [{{peer: {peer}, address: /ip4/127.0.0.1/tcp/{port}}}]")
                open(os.path.join(d, "config.yaml"), "w").write(cfg)
            proc_a, ev_a = self.start(a)
            proc_b, ev_b = self.start(b)
            aqua(a, "contacts", "add", ev_b["card"], "--alias", "bob")
            aqua(b, "contacts", "add", ev_a["card"], "--alias", "alice")
            # The daemon holds the store: contacts and the card go through it.
            listed = json.loads(aqua(a, "contacts", "list", "--json"))["contacts"]
            self.assertEqual([(c["peer_id"], c["alias"]) for c in listed], [(idb, "bob")])
            self.assertEqual(aqua(b, "card", "export").strip(), ev_b["card"])
            shown = json.loads(aqua(a, "contacts", "verify", "bob", "--json"))
            self.assertEqual((shown["trust"], len(shown["safety_code"]) > 0), ("verified", True))
            st = json.loads(aqua(a, "status", "--json"))
            self.assertTrue(st["running"])
            self.assertEqual(st["peer_id"], ida)

            def send_all(d, to, tag):
                with client.AquaClient.for_data_dir(d, timeout=120) as c:
                    for i in range(N):
                        c.call("send", to=to, text=f"secret-{tag}-{i:04d}", topic=f"topic-{tag}")

            threads = [threading.Thread(target=send_all, args=(a, "bob", "a2b")),
                       threading.Thread(target=send_all, args=(b, "alice", "b2a"))]
            t0 = time.time()
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=300)

            def wait_inbox(d, want):
                deadline = time.time() + 120
                with client.AquaClient.for_data_dir(d, timeout=60) as c:
                    while time.time() < deadline:
                        msgs = c.call("inbox.list")["messages"]
                        if len(msgs) >= want:
                            return msgs
                        time.sleep(0.2)
                return msgs

            got_b = wait_inbox(b, N)
            got_a = wait_inbox(a, N)
            elapsed = time.time() - t0
            print(f"2 x {N} messages delivered in {elapsed:.2f} s", file=sys.stderr)
            for got, sender, alias, tag in ((got_b, ida, "alice", "a2b"), (got_a, idb, "bob", "b2a")):
                texts = sorted(m["text"] for m in got)
                self.assertEqual(texts, [f"secret-{tag}-{i:04d}" for i in range(N)])  # each exactly once
                self.assertTrue(all(m["sender"] == sender and m["topic"] == f"topic-{tag}" for m in got))
                self.assertTrue(all(m["sender_alias"] == alias for m in got))
            # Both outboxes drain: every message acknowledged.
            deadline = time.time() + 60
            while time.time() < deadline:
                pend = [json.loads(aqua(d, "status", "--json"))["outbox_pending"] for d in (a, b)]
                if pend == [0, 0]:
                    break
                time.sleep(0.2)
            self.assertEqual(pend, [0, 0])
            # outbox.list pages (1,000 records each): alice's 1,000 fill one page exactly, and nothing is left, so
            # no "more" (until 2026-11-28 a full page said more and the next one was empty; inbox.list too, below).
            with client.AquaClient.for_data_dir(a, timeout=30) as c:
                page = c.call("outbox.list")
                self.assertEqual((len(page["messages"]), page["more"]), (N, False))
                first = c.call("outbox.list", after="")
                self.assertEqual(first["messages"], page["messages"])
            with client.AquaClient.for_data_dir(b, timeout=30) as c:
                page = c.call("inbox.list")  # 1,000 messages: one full page, nothing left
                self.assertEqual((len(page["messages"]), page["more"]), (N, False))
            listed = json.loads(aqua(a, "outbox", "list", "--json"))["messages"]
            self.assertEqual([m["state"] for m in listed], ["delivered"] * N)
            # Listed in send order (the pages come in message ID order), each recipient by its alias too.
            created = [m["created_ms"] for m in listed]
            self.assertEqual(created, sorted(created))
            self.assertNotEqual([m["message_id"] for m in listed], sorted(m["message_id"] for m in listed))
            self.assertTrue(all(m["recipient_alias"] == "bob" and m["recipient"] == idb for m in listed))
            lines = aqua(a, "outbox", "list").splitlines()
            self.assertEqual(len(lines), N)
            self.assertRegex(lines[0], r"^[0-9a-f]{32}  delivered  to bob  queued 20\d\d-\d\d-\d\d \d\d:\d\d:\d\dZ, "
                                       r"delivered after [0-9.]+ m?s, 1 attempts?$")
            st_b = json.loads(aqua(b, "status", "--json"))
            self.assertEqual((st_b["inbox_unread"], st_b["messages_received"]), (N, N))  # listed, not read
            # The watch stream of the control API sees the same messages.
            with client.AquaClient.for_data_dir(b, timeout=30) as c:
                first = next(c.watch(since=0))
                self.assertEqual((first["seq"], first["sender_alias"]), (1, "alice"))
            # inbox.list pages: three ~900 KB messages make ~2.7 MB message objects each, more than a
            # page (2 MiB); the CLI follows "more"/"next_since" and lists everything.
            for i in range(3):
                aqua(a, "send", "bob", "-", "--wait", stdin=f"big-{i} " + "z" * 900_000)
            with client.AquaClient.for_data_dir(b, timeout=30) as c:
                page = c.call("inbox.list", since=N)
                self.assertEqual((len(page["messages"]), page["more"], page["next_since"]), (1, True, N + 1))
                self.assertFalse(c.call("inbox.list", since=N + 2)["more"])
            with client.AquaClient.for_data_dir(a, timeout=30) as c:  # 1,003 records now: two pages
                page = c.call("outbox.list")
                self.assertEqual((len(page["messages"]), page["more"]), (N, True))
                rest = c.call("outbox.list", after=page["next_after"])
                self.assertEqual((len(rest["messages"]), rest["more"]), (3, False))
            # outbox list filters (applied by the CLI after the pages): the last N queued to one recipient (by alias
            # or peer ID), by state (pending: queued or sent); a recipient it does not know and a state that is not
            # one are errors.
            every = json.loads(aqua(a, "outbox", "list", "--json"))["messages"]
            last = json.loads(aqua(a, "outbox", "list", "--to", "bob", "--last", "3", "--json"))["messages"]
            self.assertEqual([m["message_id"] for m in last], [m["message_id"] for m in every[-3:]])
            self.assertEqual(len(json.loads(aqua(a, "outbox", "list", "--to", idb, "--state", "delivered", "--json"))
                                 ["messages"]), N + 3)
            self.assertEqual(json.loads(aqua(a, "outbox", "list", "--state", "pending", "--json"))["messages"], [])
            self.assertEqual(aqua(a, "outbox", "list", "--state", "pending"), "no sent messages match\n")
            self.assertEqual(json.loads(aqua(a, "outbox", "list", "--to", ida, "--json"))["messages"], [])
            self.assertIn("outbox list --to: 'carol' is neither a peer ID nor a contact alias",
                          aqua_stderr(a, "outbox", "list", "--to", "carol", check=1))
            self.assertIn("--state: lost not in {queued,sent,delivered,expired,pending}",
                          aqua_stderr(a, "outbox", "list", "--state", "lost", check=2))
            listed = json.loads(aqua(b, "inbox", "list", "--json"))["messages"]
            self.assertEqual([m["seq"] for m in listed], list(range(1, N + 4)))
            self.assertEqual(len(json.loads(aqua(b, "inbox", "list", "--json", "--since", "1", "--limit", "1001"))
                                 ["messages"]), N + 1)
            # The text view shows each message on one short line: the start of a long text and how to read it all.
            lines = aqua(b, "inbox", "list", "--since", str(N)).splitlines()
            self.assertEqual(len(lines), 3)
            self.assertTrue(all(len(line) < 400 for line in lines), [len(line) for line in lines])
            self.assertIn(f"big-0 {'z' * 114}... (900006 bytes: aqua inbox read {N + 1})", lines[0])
            # Clean shutdown on SIGTERM, nothing lost: after a restart the inbox is intact.
            self.stop(proc_b)
            self.assertEqual(len(json.loads(aqua(b, "inbox", "list", "--json"))["messages"]), N + 3)
            self.stop(proc_a)
            tap_to_a.close()
            tap_to_b.close()
            wire = bytes(tap_to_a.captured + tap_to_b.captured)
            self.assertGreater(len(wire), N * 2 * 40)  # the traffic did go through the taps
            for needle in (b"secret-", b"topic-a2b", b"topic-b2a", b"aqua-card-v1", ida.encode(), idb.encode()):
                self.assertNotIn(needle, wire, f"{needle!r} crossed the wire in clear")
            self.assertFalse(os.path.exists(os.path.join(a, "control.sock")))

    def test_a_daemon_refuses_a_second_daemon_and_bad_requests_get_precise_errors(self):
        client = load_client()
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a = os.path.join(tmp, "a")
            aqua(a, "init")
            proc, _ = self.start(a)
            second = subprocess.run([AQUA, "--dir", a, "serve"], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(second.returncode, 0)
            self.assertIn("store_locked", second.stderr)
            self.assertIn(f"; a daemon already serves {a} (pid {proc.pid}): 'aqua status' shows it", second.stderr)
            forced = subprocess.run([AQUA, "--dir", a, "init", "--force"], capture_output=True, text=True, timeout=60)
            self.assertEqual(forced.returncode, 1, forced.stderr)
            self.assertIn("stop it before replacing its identity", forced.stderr)
            self.assertEqual(aqua(a, "id").strip(), json.loads(aqua(a, "status", "--json"))["peer_id"])
            with client.AquaClient.for_data_dir(a, timeout=30) as c:
                for req, code in (({"to": "nobody", "text": "x"}, "not_found"),
                                  ({"to": "12D3KooWxyz", "text": "x"}, "invalid_argument"),  # no alias looks like a peer ID
                                  ({"text": "x"}, "invalid_argument"),
                                  ({"to": "a", "text": "x", "payload_hex": "00"}, "invalid_argument"),
                                  ({"to": "a", "payload_hex": "zz"}, "invalid_argument"),
                                  ({"to": "a", "text": "x", "ttl_s": -1}, "invalid_argument"),
                                  ({"to": "a", "text": None}, "invalid_argument"),  # null is "not given"
                                  ({"to": "a", "text": "x", "wait": True, "timeout_ms": 2 ** 63 - 1},
                                   "invalid_argument")):
                    with self.assertRaises(client.AquaError) as err:
                        c.call("send", **req)
                    self.assertEqual(err.exception.code, code, req)
                with self.assertRaises(client.AquaError) as err:  # a year is 365 days, as for ttl_s and the CLI
                    c.call("receive", timeout_ms=365 * 86400 * 1000 + 1)
                self.assertEqual(err.exception.code, "invalid_argument")
                self.assertIn("'timeout_ms' is more than a year", err.exception.message)
                with self.assertRaises(client.AquaError) as err:  # no session with ourselves: refused, not retried
                    c.call("send", to=aqua(a, "id").strip(), text="to myself")
                self.assertIn("own peer ID", err.exception.message)
                with self.assertRaises(client.AquaError) as err:
                    c.call("frobnicate")
                self.assertEqual(err.exception.code, "invalid_argument")
                with self.assertRaises(client.AquaError) as err:  # a misspelled argument is not silently ignored
                    c.call("send", to="a", text="x", wiat=True)
                self.assertIn("send: unknown argument 'wiat' (send takes to, text,", err.exception.message)
                with self.assertRaises(client.AquaError) as err:
                    c.call("inbox.list", limt=2)
                self.assertIn("unknown argument 'limt'", err.exception.message)
                # Not JSON: an error line, and the connection stays usable.
                c.sock.sendall(b"this is not json\n")
                self.assertEqual(c._read()["error"]["code"], "invalid_argument")
                self.assertEqual(c.call("hello")["protocol"], 1)
            out = subprocess.run([AQUA, "--dir", a, "send", "nobody", "x"], capture_output=True, text=True)
            self.assertEqual(out.returncode, 1)
            self.assertIn("neither a peer ID nor a contact alias", out.stderr)
            out = subprocess.run([AQUA, "--dir", a, "send", "12D3KooWxxx", "x"], capture_output=True, text=True)
            self.assertEqual(out.returncode, 2)  # a mistyped peer ID is a usage error (no alias looks like one)
            self.assertIn("'12D3KooWxxx' is not a valid peer ID: ", out.stderr)
            # A peer ID with no card and no session: the error says how to get the card.
            stranger = json.loads(aqua(os.path.join(tmp, "stranger"), "init", "--json"))["peer_id"]
            out = subprocess.run([AQUA, "--dir", a, "send", stranger, "x"], capture_output=True, text=True)
            self.assertEqual(out.returncode, 1)
            self.assertIn(f"unknown_session: no session with {stranger} and no contact card to start one: add its card "
                          "first (on its host 'aqua card export > peer.card', here 'aqua contacts add peer.card')",
                          out.stderr)
            out = subprocess.run([AQUA, "--dir", a, "send", "nobody", "x", "--ttl", "soon"], capture_output=True,
                                 text=True)
            self.assertEqual(out.returncode, 2)
            self.assertIn("--ttl 'soon'", out.stderr)
            out = subprocess.run([AQUA, "--dir", a, "send", "nobody", "x", "--ttl", "500ms"], capture_output=True,
                                 text=True)
            self.assertEqual(out.returncode, 2)  # would round to 0, which the API reads as "the default TTL"
            self.assertIn("--ttl '500ms' is less than 1s", out.stderr)
            self.stop(proc)

    def test_control_api_answers_every_malformed_request_and_the_daemon_lives_on(self):
        # Every command with every argument set to every JSON type, plus lines
        # that are not requests at all: each gets one JSON answer on the same
        # connection (a {"cmd": 1} used to kill the daemon in the watch check).
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a = os.path.join(tmp, "a")
            aqua(a, "init")
            proc, _ = self.start(a)
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(os.path.join(a, "control.sock"))
            sock.settimeout(30)
            reader = sock.makefile("rb")

            def ask(line):
                sock.sendall(line + b"\n")
                answer = reader.readline()
                self.assertTrue(answer.endswith(b"\n"), f"no answer to {line[:80]!r}; daemon rc={proc.poll()}")
                return json.loads(answer)

            for line in (b"{", b"[]", b"1", b'"x"', b"null", b'{"cmd":1}', b'{"cmd":null}', b'{"cmd":["watch"]}',
                         b'\xff\xfe{"cmd":"hello"}', b'{"cmd":"' + b"a" * 100000 + b'"}', b"[" * 100000 + b"]" * 100000,
                         # an id is echoed: nested 100,000 deep, printing it overflowed the client thread's stack
                         b'{"id":' + b"[" * 100000 + b"]" * 100000 + b',"cmd":"hello"}'):
                self.assertFalse(ask(line)["ok"], line[:40])
            commands = ["hello", "status", "doctor", "card", "card.renew", "send", "receive", "inbox.list", "inbox.read", "inbox.ack",
                        "inbox.delete", "outbox.list", "contacts.list", "contacts.add", "contacts.show",
                        "contacts.verify", "contacts.block", "contacts.unblock", "contacts.remove", "nope"]
            fields = ["to", "text", "payload_hex", "topic", "ttl_s", "message_id", "wait", "timeout_ms", "unread",
                      "limit", "since", "seq", "peer", "card", "alias", "who", "after", "addresses", "capabilities", "rotate",
                      "validity_days"]
            values = [None, True, -1, 2 ** 64, 1.5, "x", "", [], {}, "12D3KooW" + "1" * 44, 1e308]
            n = 0
            for cmd in commands:
                for field in fields:
                    for value in values:
                        if (cmd, field) == ("receive", "timeout_ms") or (cmd, field, value) == ("send", "wait", True):
                            continue  # would wait, not fail
                        n += 1
                        resp = ask(json.dumps({"id": n, "cmd": cmd, field: value}).encode())
                        self.assertEqual(resp["id"], n)
                        if not resp["ok"]:
                            self.assertTrue(resp["error"]["code"] and resp["error"]["message"], resp)
            # A repeated key is refused, not resolved to its last value (a wrapper checking the first "cmd" or
            # "who" would be bypassed), also inside an argument; a number id that cannot be echoed exactly too.
            for line, needle in ((b'{"id":1,"cmd":"hello","cmd":"status"}', "repeats the key 'cmd'"),
                                 (b'{"id":1,"cmd":"contacts.show","who":"a","who":"b"}', "repeats the key 'who'"),
                                 (b'{"id":{"k":1,"k":2},"cmd":"hello"}', "repeats the key 'k'"),
                                 (b'{"id":123456789012345678901234567890,"cmd":"hello"}', "integer of at most 64 bits"),
                                 (b'{"id":1.5,"cmd":"hello"}', "integer of at most 64 bits")):
                resp = ask(line)
                self.assertEqual((resp["id"], resp["ok"], resp["error"]["code"]), (None, False, "invalid_argument"), line)
                self.assertIn(needle, resp["error"]["message"], line)
            for good_id in (18446744073709551615, -9223372036854775808, "x" * 100, [1, "a"], None):
                self.assertEqual(ask(json.dumps({"id": good_id, "cmd": "hello"}).encode())["id"], good_id)
            self.assertEqual(ask(b'{"id":"last","cmd":"hello"}')["result"]["protocol"], 1)
            reader.close()
            sock.close()
            self.assertIsNone(proc.poll())
            self.stop(proc)

    def test_a_daemon_stops_at_once_with_clients_waiting_and_guards_its_socket(self):
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            # A data dir deeper than a unix socket path may be (107 bytes): reached through its directory.
            a = os.path.join(tmp, "d" * 60, "e" * 60)
            aqua(a, "init")
            proc, ev = self.start(a)
            self.assertGreater(len(ev["control"]), 107)
            self.assertEqual(json.loads(aqua(a, "status", "--json"))["peer_id"], ev["peer_id"])
            # 64 clients at once are served.
            def client():
                c = socket.socket(socket.AF_UNIX)
                c.connect(f"/proc/self/fd/{os.open(a, os.O_PATH)}/control.sock")
                c.settimeout(30)
                return c
            held = []
            for _ in range(64):
                c = client()
                c.sendall(b'{"id":1,"cmd":"hello"}\n')
                self.assertIn(b'"ok":true', c.recv(4096))
                held.append(c)
            # One sends requests and never reads the answers (its thread blocks writing them): busy, not idle.
            held[3].setblocking(False)
            try:
                for _ in range(20000):
                    held[3].send(b'{"id":3,"cmd":"status"}\n' * 64)
            except BlockingIOError:
                pass
            # A 65th client takes the place of the one idle the longest (a second at least), which is told why.
            time.sleep(1.2)
            self.assertEqual(json.loads(aqua(a, "status", "--json"))["peer_id"], ev["peer_id"])
            # Which one was idle the longest depends on when each client thread noted its answer: find it.
            idle = [c for i, c in enumerate(held) if i != 3]
            ready, _, _ = select.select(idle, [], [], 10)
            self.assertEqual(len(ready), 1, "exactly one idle connection makes room")
            evicted = ready[0]
            note = json.loads(evicted.makefile().readline())
            self.assertEqual(note["error"]["code"], "would_block", note)
            self.assertIn("idle, for a new client (at most 64 connections)", note["error"]["message"])
            self.assertEqual(evicted.recv(4096), b"")
            evicted.close()
            # With none idle, the 65th is refused and told why. Clients waiting for messages (up to a day) are busy.
            waiting = [c for c in idle if c is not evicted] + [client()]
            for c in waiting:
                c.sendall(b'{"id":2,"cmd":"receive","timeout_ms":86400000}\n')
            time.sleep(0.3)
            full = subprocess.run([AQUA, "--dir", a, "status"], capture_output=True, text=True, timeout=60)
            self.assertEqual(full.returncode, 1, full.stderr)
            self.assertIn("too many clients (64)", full.stderr)
            for c in waiting[2:]:
                c.close()
            # Clients waiting for messages do not hold up SIGTERM, nor does the one that never reads its answers.
            time.sleep(0.5)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=60), 0)
            self.assertLess(time.monotonic() - t0, 5, "the daemon waited for its clients' receive timeouts")
            for c in waiting[:2]:  # each waiting receive is answered, as control.md says
                answer = json.loads(c.makefile().readline())
                self.assertEqual((answer["id"], answer["error"]["code"]), (2, "not_running"), answer)
                c.close()
            held[3].close()
            # A file that is not a socket where control.sock goes is left alone.
            sock_path = os.path.join(a, "control.sock")
            with open(sock_path, "w") as f:
                f.write("not a socket")
            out = subprocess.run([AQUA, "--dir", a, "serve"], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("exists and is not a socket", out.stderr)
            with open(sock_path) as f:
                self.assertEqual(f.read(), "not a socket")
            # A daemon that does not answer (stopped): the CLI gives up with a timeout (exit 6), not hangs.
            os.remove(sock_path)
            proc, _ = self.start(a)
            proc.send_signal(signal.SIGSTOP)
            try:
                out = subprocess.run([AQUA, "--dir", a, "status"], capture_output=True, text=True, timeout=90)
                self.assertEqual(out.returncode, 6, out.stderr)
                self.assertIn("did not answer within 30 s", out.stderr)
            finally:
                proc.send_signal(signal.SIGCONT)
            self.stop(proc)

    def test_a_receive_whose_client_went_away_takes_no_message(self):
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            aqua(a, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            aqua(b, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            proc_a, ev_a = self.start(a)
            proc_b, ev_b = self.start(b)
            aqua(a, "contacts", "add", ev_b["card"], "--alias", "bob")
            aqua(b, "contacts", "add", ev_a["card"], "--alias", "alice")

            def request(lines, close=True):
                c = socket.socket(socket.AF_UNIX)
                c.connect(ev_b["control"])
                c.settimeout(30)
                c.sendall("".join(json.dumps(r) + "\n" for r in lines).encode())
                if close:
                    c.close()
                return c

            # a worker that died while waiting, and one that pipelined three receives and went away
            request([{"id": 1, "cmd": "receive", "timeout_ms": 30000}])
            request([{"id": k, "cmd": "receive", "timeout_ms": 30000} for k in range(3)])
            time.sleep(0.5)
            for k in range(2):
                aqua(a, "send", "bob", f"work {k}", "--wait")
            c = request([{"id": 9, "cmd": "receive", "timeout_ms": 10000}] * 2, close=False)
            f = c.makefile()
            got = [json.loads(f.readline()) for _ in range(2)]
            c.close()
            self.assertEqual([g["result"]["text"] for g in got], ["work 0", "work 1"], got)
            # A client that shuts down only its writing side (socat, nc -N) has not gone: it gets its answer,
            # and a watch keeps streaming to it.
            c = request([{"id": 10, "cmd": "receive", "timeout_ms": 20000}], close=False)
            c.shutdown(socket.SHUT_WR)
            w = request([{"id": 11, "cmd": "watch", "since": got[1]["result"]["seq"]}], close=False)
            w.shutdown(socket.SHUT_WR)
            time.sleep(0.5)
            out = json.loads(aqua(a, "send", "bob", "work 2", "--wait", "--json"))
            got = json.loads(c.makefile().readline())
            c.close()
            self.assertEqual(got["result"]["text"], "work 2", got)
            wf = w.makefile()
            self.assertEqual(json.loads(wf.readline())["result"]["watching"], True)
            self.assertEqual(json.loads(wf.readline())["message"]["message_id"], out["message_id"])
            w.close()
            # The last request needs no newline: end of input ends it (printf '{...}' | socat - UNIX:...).
            c = socket.socket(socket.AF_UNIX)
            c.connect(ev_b["control"])
            c.settimeout(30)
            c.sendall(b'{"id": 12, "cmd": "status"}\n{"id": 13, "cmd": "hello"}')
            c.shutdown(socket.SHUT_WR)
            answers = [json.loads(line) for line in c.makefile().read().splitlines()]
            c.close()
            self.assertEqual([x["id"] for x in answers], [12, 13], answers)
            self.assertTrue(all(x["ok"] for x in answers), answers)
            self.stop(proc_b)
            self.stop(proc_a)

    def test_a_message_bigger_than_the_request_line_is_listed_read_and_watched(self):
        # A 2 MB text of newlines is 8 MB as a message object (hex + escaped text): a response line longer than
        # the 4 MiB a request may be, which the CLI must read whole (until 2026-11-28 it refused any line over
        # 4 MiB, and such a message made every inbox listing that reached it fail).
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            for d in (a, b):
                aqua(d, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
                cfg = os.path.join(d, "config.yaml")
                text = open(cfg).read()
                with open(cfg, "w") as f:
                    f.write(text.replace("crypto: {}", "crypto: {max_frame_bytes: 3145728}"))
            proc_a, ev_a = self.start(a)
            proc_b, ev_b = self.start(b)
            aqua(a, "contacts", "add", ev_b["card"], "--alias", "bob")
            aqua(b, "contacts", "add", ev_a["card"], "--alias", "alice")
            body = "\n" * 2_000_000
            sent = subprocess.run([AQUA, "--dir", a, "send", "bob", "-", "--wait", "--timeout", "60s", "--json"],
                                  input=body, capture_output=True, text=True, timeout=120)
            self.assertEqual(sent.returncode, 0, sent.stdout + sent.stderr)
            aqua(a, "send", "bob", "small one after it", "--wait")
            listed = json.loads(aqua(b, "inbox", "list", "--json"))["messages"]
            self.assertEqual([m["text"] for m in listed], [body, "small one after it"])
            self.assertEqual(len(listed[0]["payload_hex"]), 4_000_000)
            read = json.loads(aqua(b, "inbox", "read", str(listed[0]["seq"]), "--json"))
            self.assertEqual(read["text"], body)
            # A file sent with --file comes back as its bytes with read --output (mode 0600), or to stdout with -.
            blob = bytes(range(256)) * 1000
            with open(os.path.join(tmp, "blob.bin"), "wb") as f:
                f.write(blob)
            aqua(a, "send", "bob", "--file", os.path.join(tmp, "blob.bin"), "--wait")
            seq = json.loads(aqua(b, "inbox", "list", "--json"))["messages"][-1]["seq"]
            out = os.path.join(tmp, "got.bin")
            self.assertEqual(json.loads(aqua(b, "inbox", "read", str(seq), "--output", out, "--json")),
                             {"seq": seq, "output": out})
            with open(out, "rb") as f:
                self.assertEqual(f.read(), blob)
            self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
            raw = subprocess.run([AQUA, "--dir", b, "inbox", "read", str(seq), "-o", "-"], capture_output=True,
                                 timeout=60)
            self.assertEqual((raw.returncode, raw.stdout), (0, blob))
            watch = subprocess.Popen([AQUA, "--dir", b, "inbox", "watch", "--since", "0", "--json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                first = json.loads(watch.stdout.readline())
                second = json.loads(watch.stdout.readline())
                self.stop(proc_b)  # ends the watch: no daemon (exit 5), and where to resume
                rest, err = watch.communicate(timeout=30)
            finally:
                if watch.poll() is None:
                    watch.kill()  # by PID: only the watch this test started
                    watch.communicate(timeout=30)
            self.assertEqual((first["text"], second["text"]), (body, "small one after it"))  # (the blob is third)
            self.assertEqual(watch.returncode, 5, err)
            stopped = json.loads(rest.strip().splitlines()[-1])["error"]
            self.assertEqual((stopped["code"], stopped["since"]), ("not_running", second["seq"] + 1))
            self.assertIn(f"resume with 'aqua --dir {b} inbox watch --since {second['seq'] + 1}'", stopped["message"])
            self.stop(proc_a)

    def alice_with_bob_offline(self, tmp):
        """alice's and bob's data dirs in tmp; bob (whose daemon never starts: no ack comes) is alice's contact."""
        a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
        aqua(a, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
        aqua(b, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")  # never started: no ack comes
        aqua(a, "contacts", "add", aqua(b, "card", "export").strip(), "--alias", "bob")
        return a, b

    def test_commands_follow_the_data_dir_the_config_names(self):
        # node.data_dir in <--dir>/config.yaml moves the store and the control socket; serve followed it, but every
        # other command looked in --dir: no daemon for send/status, "no messages" from inbox list.
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            aqua(a, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            aqua(b, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            moved = os.path.join(tmp, "a-data")
            os.mkdir(moved, 0o700)
            os.rename(os.path.join(a, "identity.key"), os.path.join(moved, "identity.key"))
            cfg = os.path.join(a, "config.yaml")
            with open(cfg) as f:
                text = f.read().replace("  # data_dir defaults to the directory holding this file",
                                        f"  data_dir: {moved}")
            with open(cfg, "w") as f:
                f.write(text)
            out = aqua_stderr(a, "status", check=5)
            self.assertEqual(out, "")
            st = json.loads(aqua(a, "status", "--json", check=5))
            self.assertEqual(st["data_dir"], moved)
            self.assertNotIn("serve_would_fail", st)
            self.assertIn(f"no daemon is running for {a} (data dir {moved}); start one with 'aqua --dir {a} serve'",
                          st["hint"])
            aqua(a, "contacts", "add", aqua(b, "card", "export").strip(), "--alias", "bob")
            aqua(b, "contacts", "add", aqua(a, "card", "export").strip(), "--alias", "alice")
            pa, _ = self.start(a)
            pb, _ = self.start(b)
            self.assertEqual(json.loads(aqua(a, "status", "--json"))["data_dir"], moved)
            aqua(b, "send", "alice", "to the moved store", "--wait", "--timeout", "30s")
            listed = json.loads(aqua(a, "inbox", "list", "--json"))["messages"]
            self.assertEqual([m["text"] for m in listed], ["to the moved store"])
            self.stop(pa)
            self.stop(pb)
            # Without the daemon, on the store itself.
            listed = json.loads(aqua(a, "inbox", "list", "--json"))["messages"]
            self.assertEqual([m["text"] for m in listed], ["to the moved store"])
            self.assertIn("alice", aqua(b, "contacts", "list"))
            self.assertIn("bob", aqua(a, "contacts", "list"))
            self.assertIn(os.path.join(moved, "store") + ": OK", aqua(a, "store", "check"))
            self.assertFalse(os.path.exists(os.path.join(a, "store")))
            # A config that does not load: the store could be anywhere, so commands say so instead of guessing.
            with open(cfg, "a") as f:
                f.write("bogus: [\n")
            err = aqua_stderr(a, "inbox", "list", check=3)
            self.assertIn("config.yaml", err)

    def test_ctrl_c_during_send_wait_names_the_id_to_retry_with(self):
        # It exited 130 and said nothing, even with --json: the message was queued and its ID unknown.
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a, b = self.alice_with_bob_offline(tmp)
            self.start(a)
            for json_out in (False, True):
                rc, out, err = daemons.signalled([AQUA, "--dir", a, "send", "bob", "x", "--wait", "--timeout", "60s",
                                                  *(["--json"] if json_out else [])], 1.0, signal.SIGINT)
                self.assertEqual(rc, 130, err)
                if json_out:
                    e = json.loads(out)["error"]
                    self.assertEqual(e["code"], "timeout")
                    mid = e["message_id"]
                else:
                    m = re.search(r"interrupted while waiting for the ack of message ([0-9a-f]{32}): it may be queued "
                                  r"\(see 'aqua outbox list'\); retry with --message-id \1 to send it at most once", err)
                    self.assertTrue(m, err)
                    mid = m.group(1)
                listed = [r["message_id"] for r in json.loads(aqua(a, "outbox", "list", "--json"))["messages"]]
                self.assertIn(mid, listed)

    def test_send_cut_off_by_a_dying_daemon_names_the_id_to_retry_with(self):
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a, b = self.alice_with_bob_offline(tmp)
            proc_a, _ = self.start(a)
            send = subprocess.Popen([AQUA, "--dir", a, "send", "bob", "x", "--wait", "--timeout", "60s"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                time.sleep(1.5)
                proc_a.kill()
                proc_a.wait(timeout=30)
                _, err = send.communicate(timeout=60)
            finally:
                if send.poll() is None:
                    send.kill()
            self.assertEqual(send.returncode, 1, err)
            self.assertIn("connection_closed", err)
            m = re.search(r"retry with --message-id ([0-9a-f]{32})", err)
            self.assertTrue(m, err)
            listed = json.loads(aqua(a, "outbox", "list", "--json"))["messages"]  # queued before the daemon died
            self.assertEqual([r["message_id"] for r in listed], [m.group(1)])
            proc_a, _ = self.start(a)  # the retry the error suggests does not queue a second copy
            out = json.loads(aqua(a, "send", "bob", "x", "--message-id", m.group(1), "--json"))
            self.assertEqual(out["message_id"], m.group(1))
            self.assertIn("attempts", out)  # a retry gets the current record, not a fresh "queued"
            # The same id with another text is no retry: refused, not silently dropped as one.
            p = subprocess.run([AQUA, "--dir", a, "send", "bob", "y", "--message-id", m.group(1)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("conflict", p.stderr)
            self.assertIn("another payload or topic", p.stderr)
            # The text output names the recipient as the user did, with its peer ID.
            idb = json.loads(aqua(b, "id", "--json"))["peer_id"]
            self.assertIn(f"still pending {m.group(1)} for bob ({idb}) (a retry: nothing sent again; ",
                          aqua(a, "send", "bob", "x", "--message-id", m.group(1)))
            self.assertEqual(len(json.loads(aqua(a, "outbox", "list", "--json"))["messages"]), 1)
            self.assertRegex(aqua(a, "send", "bob", "fresh"), rf"^queued [0-9a-f]{{32}} for bob \({idb}\) ")
            # --wait that runs out: exit 6, the id named once, and what happens to the message.
            p = subprocess.run([AQUA, "--dir", a, "send", "bob", "z", "--wait", "--timeout", "1s"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 6, p.stderr)
            self.assertIn("not acknowledged by its recipient yet; it stays in the outbox and is retried until it expires",
                          p.stderr)
            waited = re.search(r"message ([0-9a-f]{32})", p.stderr).group(1)
            self.assertEqual(p.stderr.count(waited), 1, p.stderr)
            # A retry of a message that expired sends nothing and says so (exit 1, the ID in the JSON error).
            gone = json.loads(aqua(a, "send", "bob", "short-lived", "--ttl", "1s", "--json"))["message_id"]
            for _ in range(100):  # bounded: the outbox marks it expired on its next tick
                states = {r["message_id"]: r["state"] for r in json.loads(aqua(a, "outbox", "list", "--json"))["messages"]}
                if states[gone] == "expired":
                    break
                time.sleep(0.1)
            self.assertEqual(states[gone], "expired")
            p = subprocess.run([AQUA, "--dir", a, "send", "bob", "short-lived", "--ttl", "1s", "--message-id", gone,
                                "--json"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertEqual(json.loads(p.stdout)["error"], {"code": "message_expired", "message_id": gone, "message":
                             json.loads(p.stdout)["error"]["message"]})
            self.assertIn("a retry does not send it again", p.stdout)
            # With --json the ID is a field of the error, for scripts; a usage error queued nothing and has none.
            p = subprocess.run([AQUA, "--dir", a, "send", "bob", "w", "--wait", "--timeout", "1s", "--json"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 6, p.stderr)
            err = json.loads(p.stdout)["error"]
            self.assertEqual(err["code"], "timeout")
            self.assertIn(err["message_id"], [r["message_id"] for r in
                                              json.loads(aqua(a, "outbox", "list", "--json"))["messages"]])
            p = subprocess.run([AQUA, "--dir", a, "send", "nobody", "w", "--json"], capture_output=True, text=True,
                               timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertNotIn("message_id", json.loads(p.stdout)["error"])
            # Once bob is up and has it, a retry says it was delivered and sends nothing again.
            proc_b, _ = self.start(b)
            out = json.loads(aqua(a, "send", "bob", "x", "--message-id", m.group(1), "--wait", "--timeout", "60s",
                                  "--json"))
            self.assertEqual(out["state"], "delivered")
            self.assertIn(f"already delivered {m.group(1)} to bob ({idb}) (not sent again)",
                          aqua(a, "send", "bob", "x", "--message-id", m.group(1)))
            self.assertIn(f"already delivered {m.group(1)} to bob ({idb}) (not sent again)",
                          aqua(a, "send", "bob", "x", "--message-id", m.group(1), "--wait"))
            self.assertEqual(json.loads(aqua(a, "send", "bob", "x", "--message-id", m.group(1), "--json"))["state"],
                             "delivered")
            self.assertEqual([r["text"] for r in json.loads(aqua(b, "inbox", "list", "--json"))["messages"]].count("x"),
                             1)
            self.stop(proc_b)
            self.stop(proc_a)

    def test_sigterm_ends_the_wait_for_the_agent_directory(self):
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a = os.path.join(tmp, "a")
            aqua(a, "init")
            directory = os.path.join(tmp, "directory")
            cfg = os.path.join(a, "agents.yaml")
            with open(cfg, "w") as f:
                f.write(open(os.path.join(a, "config.yaml")).read() + "agents:\n  - plugin: data\n"
                        f"agent_directory: {{path: {directory}, require: [ghost], wait_s: 120}}\n")
            proc, _ = daemons.serve(a, config=cfg)
            self.procs.append(proc)
            time.sleep(1.5)  # waiting for ghost's card
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=60), 0, proc.stderr.read())
            self.assertLess(time.monotonic() - t0, 10, "SIGTERM waited for agent_directory.wait_s")
            self.assertIn("stopped", proc.stdout.read())
            # the directory holds what only this user may write; one that others may write is refused
            os.chmod(directory, 0o777)
            out = subprocess.run([AQUA, "--dir", a, "serve", "--config", cfg], capture_output=True, text=True,
                                 timeout=60)
            self.assertEqual(out.returncode, 3, out.stderr)
            self.assertIn("is writable by group or others (mode 0777)", out.stderr)
            self.assertNotIn("serving", out.stdout)  # refused before the daemon says it serves
            out = subprocess.run([AQUA, "--dir", a, "config", "check", cfg], capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 3, out.stderr)  # and by config check
            self.assertIn("is writable by group or others (mode 0777)", out.stderr)

    def test_a_daemon_with_an_agent_directory_and_no_agents_publishes_its_card(self):
        # A daemon fronting an agent that uses the control API has no `agents:`; it is found by its node.name
        # all the same (until 2026-11-28 the directory was ignored without agents).
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a = os.path.join(tmp, "a")
            aqua(a, "init", "--name", "front")
            directory = os.path.join(tmp, "directory")
            cfg = os.path.join(a, "front.yaml")
            with open(cfg, "w") as f:
                f.write(open(os.path.join(a, "config.yaml")).read() + f"agent_directory: {{path: {directory}}}\n")
            proc, ev = daemons.serve(a, config=cfg)
            self.procs.append(proc)
            card = os.path.join(directory, "front.card")
            for _ in range(100):  # bounded: the agent host publishes it just after "serving"
                if os.path.exists(card):
                    break
                time.sleep(0.1)
            with open(card) as f:
                self.assertEqual(f.read().strip(), ev["card"])
            # A renewed card is published there too (within the directory's 1 s rescan), for the other daemons.
            renewed = aqua(a, "card", "renew").strip()
            self.assertNotEqual(renewed, ev["card"])
            for _ in range(100):  # bounded
                with open(card) as f:
                    if f.read().strip() == renewed:
                        break
                time.sleep(0.1)
            with open(card) as f:
                self.assertEqual(f.read().strip(), renewed)
            self.stop(proc)

    def test_a_signal_while_the_node_waits_for_its_relay_at_start_ends_it_at_once(self):
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a = os.path.join(tmp, "a")
            aqua(a, "init")
            with socket.socket() as s:  # a port nothing listens on: the relay_v2 listen waits listen_timeout_ms
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            relay_id = json.loads(aqua(a, "id", "--json"))["peer_id"]
            with open(os.path.join(a, "config.yaml"), "w") as f:
                f.write("components: {}\ntransports:\n  - plugin: relay_v2\n    listen: [/p2p-circuit]\n"
                        f"    settings: {{relays: /ip4/127.0.0.1/tcp/{port}/p2p/{relay_id}, listen_timeout_ms: 60000}}\n")
            for cmd, sig in ((["serve", "--json"], signal.SIGINT), (["serve"], signal.SIGTERM),
                             (["inbox", "watch", "--json"], signal.SIGINT)):
                proc = subprocess.Popen([AQUA, "--dir", a, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                self.procs.append(proc)
                time.sleep(1)
                t0 = time.monotonic()
                proc.send_signal(sig)
                out, err = proc.communicate(timeout=30)
                self.assertEqual(proc.returncode, 0, (cmd, err))
                self.assertLess(time.monotonic() - t0, 5, (cmd, "the stop waited for listen_timeout_ms"))
                if cmd == ["serve", "--json"]:
                    self.assertEqual(json.loads(out), {"event": "stopped", "signal": "SIGINT", "while": "starting"})
                elif cmd == ["serve"]:
                    self.assertIn("stopped on SIGTERM while starting; nothing was served", out)
            # Ended mid-start as by a crash: the store reads back whole.
            self.assertTrue(json.loads(aqua(a, "store", "check", "--json"))["ok"])

    def test_a_hostile_sender_cannot_drive_the_terminal_and_utf8_text_stays_text(self):
        with tempfile.TemporaryDirectory(prefix="aqua-daemon-") as tmp:
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            aqua(a, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            aqua(b, "init", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            self.start(a)
            self.start(b)
            aqua(b, "contacts", "add", "-", "--alias", "alice", stdin=aqua(a, "card", "export"))
            aqua(a, "contacts", "add", "-", "--alias", "bob", stdin=aqua(b, "card", "export"))
            texts = ["ok\n99  unread  bob  FORGED: wire the money", "\x1b]0;pwned\x07bell", "a\rb", "h\u00e9llo \u2713 \U0001f600"]
            for t in texts:
                aqua(a, "send", "bob", "-", "--wait", stdin=t)
            aqua(a, "send", "bob", "x", "--topic", "\x1b[2J\x1b[31mEVIL\nfake line", "--wait")
            listed = json.loads(aqua(b, "inbox", "list", "--json"))["messages"]
            # JSON keeps text exactly (UTF-8 too); a payload with other control characters is not text (hex only).
            self.assertEqual([m.get("text") for m in listed], [texts[0], None, texts[2], texts[3], "x"])
            view = aqua(b, "inbox", "list")
            for bad in ("\x1b", "\x07", "\r"):
                self.assertNotIn(bad, view)
            self.assertEqual(len(view.splitlines()), len(texts) + 1, view)  # one line per message, none forged
            self.assertIn("ok\\n99  unread  bob  FORGED", view)
            self.assertIn("a\\x0db", view)
            self.assertIn("h\u00e9llo \u2713 \U0001f600", view)
            read = aqua(b, "inbox", "read", str(listed[-1]["seq"]))
            self.assertNotIn("\x1b", read)
            self.assertIn("topic \\x1b[2J\\x1b[31mEVIL\\nfake line", read)


if __name__ == "__main__":
    AQUA, SRC = sys.argv[1], sys.argv[2]
    daemons.AQUA = AQUA
    unittest.main(argv=sys.argv[:1], verbosity=2)
