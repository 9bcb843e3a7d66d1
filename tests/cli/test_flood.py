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
import sys
import tempfile
import time
import unittest

import daemons
from daemons import aqua, cpu_seconds, free_port, open_fds, text

FLOOD = 1000
FD_LIMIT = 256


class Flood(daemons.Processes):
    def test_a_daemon_with_few_descriptors_lives_through_a_connection_flood(self):
        if not daemons.allow_open_files(FLOOD + 200):
            print("skipped: this process may not open enough files")
            sys.exit(77)
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
                proc_a, ev_a = self.start(a, la, "serve", fd_limit=FD_LIMIT)
                proc_b, ev_b = self.start(b, lb, "serve")
                aqua(a, "contacts", "add", ev_b["card"], "--alias", "bob")
                aqua(b, "contacts", "add", ev_a["card"], "--alias", "alice")
                self.socks = daemons.flood(pa, FLOOD, ["127.0.0.2"])
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
                self.stop_all(proc_a, proc_b)


if __name__ == "__main__":
    daemons.AQUA = sys.argv.pop(1)
    unittest.main()
