#!/usr/bin/env python3
"""A daemon under a TCP connection flood: real `aqua serve` processes on 127.0.0.1.

alice's daemon runs with an open-file limit of 256 (hard, so `serve` cannot raise it) while a flood of 1,000 silent
TCP connections from 127.0.0.2 hits her zmq port. Before the zmq transport limited its connections
(docs/transports.md, "Connection limits") this took every descriptor: libzmq's listener spun at 100% CPU and the
store failed. Now alice must keep ~idle CPU, answer `aqua status`, and exchange messages with bob both ways.

Usage: test_flood.py <path to aqua binary>
"""
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import daemons
from daemons import aqua, free_port

AQUA = None
FLOOD = 1000
FD_LIMIT = 256


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def text(path):
    with open(path) as f:
        return f.read()


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Flood(unittest.TestCase):
    def setUp(self):
        self.procs, self.socks = [], []

    def tearDown(self):
        for s in self.socks:
            s.close()
        for p in self.procs:  # only the daemons this test started, by PID
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
            p.stdout.close()

    def serve(self, d, log, limit=None):
        def lower():
            if limit:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        p = subprocess.Popen([AQUA, "--dir", d, "serve", "--json"], stdout=subprocess.PIPE, stderr=log, text=True,
                             preexec_fn=lower)
        self.procs.append(p)
        line = p.stdout.readline()
        ev = json.loads(line or "{}")
        self.assertEqual(ev.get("event"), "serving", text(log.name))
        return p, ev

    def test_a_daemon_with_few_descriptors_lives_through_a_connection_flood(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard < FLOOD + 200:
            print(f"skipped: this process may open only {hard} files")
            sys.exit(77)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        with tempfile.TemporaryDirectory(prefix="aqua-flood-") as tmp:
            a, b = os.path.join(tmp, "alice"), os.path.join(tmp, "bob")
            pa, pb = free_port(), free_port()
            aqua(a, "init", "--listen", f"/ip4/127.0.0.1/tcp/{pa}")
            aqua(b, "init", "--listen", f"/ip4/127.0.0.1/tcp/{pb}")
            cfg = os.path.join(a, "config.yaml")
            yaml = text(cfg).replace(f"listen: [/ip4/127.0.0.1/tcp/{pa}]",
                                            f"listen: [/ip4/127.0.0.1/tcp/{pa}]\n"
                                            "    settings: {max_connections_per_ip: 50}")
            with open(cfg, "w") as f:
                f.write(yaml)
            with open(os.path.join(tmp, "alice.log"), "w") as la, open(os.path.join(tmp, "bob.log"), "w") as lb:
                proc_a, ev_a = self.serve(a, la, limit=FD_LIMIT)
                proc_b, ev_b = self.serve(b, lb)
                aqua(a, "contacts", "add", ev_b["card"], "--alias", "bob")
                aqua(b, "contacts", "add", ev_a["card"], "--alias", "alice")
                refused = 0
                for _ in range(FLOOD):
                    s = socket.socket()
                    s.bind(("127.0.0.2", 0))
                    try:
                        s.connect(("127.0.0.1", pa))
                    except OSError:
                        refused += 1  # the listen backlog may overflow for a moment: fine, it is a flood
                        s.close()
                        continue
                    self.socks.append(s)
                self.assertGreater(len(self.socks), FLOOD // 2)
                time.sleep(1)
                self.assertIsNone(proc_a.poll(), text(la.name)[-2000:])
                self.assertLess(open_fds(proc_a.pid), FD_LIMIT)
                # Not spinning: under half a core over two seconds.
                c0 = cpu_seconds(proc_a.pid)
                time.sleep(2)
                self.assertLess(cpu_seconds(proc_a.pid) - c0, 1.0)
                # Still a node: its control API answers, and messages go both ways while the flood holds.
                self.assertTrue(json.loads(aqua(a, "status", "--json"))["running"])
                out = json.loads(aqua(b, "send", "alice", "through the flood", "--wait", "--timeout", "60s", "--json"))
                self.assertEqual(out["state"], "delivered")
                out = json.loads(aqua(a, "send", "bob", "and back", "--wait", "--timeout", "60s", "--json"))
                self.assertEqual(out["state"], "delivered")
                texts = [m["text"] for m in json.loads(aqua(a, "inbox", "list", "--json"))["messages"]]
                self.assertEqual(texts, ["through the flood"])
                log = text(la.name)
                self.assertIn("max_connections_per_ip 50", log)  # the refusals are reported
                self.assertNotIn("Too many open files", log)
                for p in (proc_a, proc_b):
                    p.send_signal(signal.SIGTERM)
                    p.wait(timeout=60)
                    self.assertEqual(p.returncode, 0)


if __name__ == "__main__":
    AQUA = daemons.AQUA = sys.argv.pop(1)
    unittest.main()
