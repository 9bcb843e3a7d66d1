#!/usr/bin/env python3
"""`aqua relay serve` out of file descriptors: a real relay process on 127.0.0.1 with an open-file limit of 256
(soft and hard, so `relay serve` cannot raise it) under 600 silent TCP connections.

Before the relay kept a spare descriptor and capped its connections at half the open-file limit, accept4 failed
with EMFILE, the pending connections kept the listener readable and the loop spun at 100% CPU for as long as the
connections stayed. Now the relay must stay near idle, keep its descriptors below the limit, and serve a
reservation once the flood is gone.

Usage: test_relay_fds.py <path to aqua binary>
"""
import json
import os
import sys
import tempfile
import time
import unittest

import daemons
from daemons import aqua, cpu_seconds, free_port, open_fds, text

FLOOD = 600
FD_LIMIT = 256


class RelayFds(daemons.Processes):
    def test_a_relay_out_of_descriptors_does_not_spin_and_serves_afterwards(self):
        if not daemons.allow_open_files(FLOOD + 200):
            print("skipped: this process may not open enough files")
            sys.exit(77)
        with tempfile.TemporaryDirectory(prefix="aqua-relay-fds-") as tmp:
            r, a = os.path.join(tmp, "relay"), os.path.join(tmp, "a")
            port = free_port()
            idr = json.loads(aqua(r, "init", "--json", "--listen", "/memory/relay-fds-r"))["peer_id"]
            # Per-address limits out of the way: this is about descriptors, the flood comes from a few addresses.
            cfg = os.path.join(r, "config.yaml")
            yaml = text(cfg)
            self.assertIn("    serve: false\n", yaml)
            with open(cfg, "w") as f:
                f.write(yaml.replace("    serve: false\n",
                                     "    serve: false\n    max_connections_per_ip: 10000\n"
                                     "    new_connections_per_ip_per_s: 0\n", 1))
            with open(os.path.join(tmp, "relay.log"), "w") as lr, open(os.path.join(tmp, "a.log"), "w") as la:
                proc_r, _ = self.start(r, lr, "relay", "serve", "--listen", f"/ip4/127.0.0.1/tcp/{port}",
                                       fd_limit=FD_LIMIT)
                relay_addr = f"/ip4/127.0.0.1/tcp/{port}/p2p/{idr}"
                self.socks = daemons.flood(port, FLOOD, [f"127.0.0.{2 + i}" for i in range(4)])
                self.assertGreater(len(self.socks), FLOOD // 2)
                time.sleep(1)
                self.assertIsNone(proc_r.poll(), text(lr.name)[-2000:])
                # Not spinning: under a quarter of a core over two seconds while the flood holds.
                c0 = cpu_seconds(proc_r.pid)
                time.sleep(2)
                self.assertLess(cpu_seconds(proc_r.pid) - c0, 0.5)
                self.assertLess(open_fds(proc_r.pid), FD_LIMIT)
                log = text(lr.name)
                self.assertIn("half the open-file limit 256", log)  # max_connections lowered, and said so
                self.assertLess(log.count("refusing"), 20)  # refusals are reported at most once a second

                # The flood leaves; a peer reserves on the relay.
                for s in self.socks:
                    s.close()
                self.socks = []
                time.sleep(0.5)
                aqua(a, "init", "--listen", "/memory/relay-fds-a")
                daemons.use_relay(a, relay_addr)
                proc_a, ev_a = self.start(a, la, "serve")
                self.assertTrue(any(x.startswith(relay_addr + "/p2p-circuit/") for x in ev_a["listen"]), ev_a)
                st = json.loads(aqua(r, "status", "--json"))
                self.assertEqual(st["relay"]["reservations"], 1, st)
                self.stop_all(proc_a, proc_r)


if __name__ == "__main__":
    daemons.AQUA = sys.argv.pop(1)
    unittest.main()
