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
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

AQUA = None
FLOOD = 600
FD_LIMIT = 256


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aqua(d, *args, check=0):
    p = subprocess.run([AQUA, "--dir", d, *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == check, f"{args}: rc={p.returncode} out={p.stdout} err={p.stderr}"
    return p


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def text(path):
    with open(path) as f:
        return f.read()


class RelayFds(unittest.TestCase):
    def setUp(self):
        self.procs, self.socks = [], []

    def tearDown(self):
        for s in self.socks:
            s.close()
        for p in self.procs:  # only the processes this test started, by PID
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
            p.stdout.close()

    def start(self, d, log, *args, limit=None):
        def lower():
            if limit:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        p = subprocess.Popen([AQUA, "--dir", d, *args, "--json"], stdout=subprocess.PIPE, stderr=log, text=True,
                             preexec_fn=lower)
        self.procs.append(p)
        line = p.stdout.readline()  # bounded: the process exits on a start failure
        ev = json.loads(line or "{}")
        self.assertEqual(ev.get("event"), "serving", text(log.name))
        return p, ev

    def test_a_relay_out_of_descriptors_does_not_spin_and_serves_afterwards(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard < FLOOD + 200:
            print(f"skipped: this process may open only {hard} files")
            sys.exit(77)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        with tempfile.TemporaryDirectory(prefix="aqua-relay-fds-") as tmp:
            r, a = os.path.join(tmp, "relay"), os.path.join(tmp, "a")
            port = free_port()
            idr = json.loads(aqua(r, "init", "--json", "--listen", "/memory/relay-fds-r").stdout)["peer_id"]
            # Per-address limits out of the way: this is about descriptors, the flood comes from a few addresses.
            cfg = os.path.join(r, "config.yaml")
            yaml = text(cfg)
            self.assertIn("    serve: false\n", yaml)
            with open(cfg, "w") as f:
                f.write(yaml.replace("    serve: false\n", "    serve: false\n    max_connections_per_ip: 10000\n", 1))
            with open(os.path.join(tmp, "relay.log"), "w") as lr, open(os.path.join(tmp, "a.log"), "w") as la:
                proc_r, _ = self.start(r, lr, "relay", "serve", "--listen", f"/ip4/127.0.0.1/tcp/{port}",
                                       limit=FD_LIMIT)
                relay_addr = f"/ip4/127.0.0.1/tcp/{port}/p2p/{idr}"
                for i in range(FLOOD):
                    s = socket.socket()
                    s.bind((f"127.0.0.{2 + i % 4}", 0))
                    s.settimeout(5)
                    try:
                        s.connect(("127.0.0.1", port))
                    except OSError:
                        s.close()  # the listen backlog may overflow for a moment: fine, it is a flood
                        continue
                    self.socks.append(s)
                self.assertGreater(len(self.socks), FLOOD // 2)
                time.sleep(1)
                self.assertIsNone(proc_r.poll(), text(lr.name)[-2000:])
                # Not spinning: under a quarter of a core over two seconds while the flood holds.
                c0 = cpu_seconds(proc_r.pid)
                time.sleep(2)
                self.assertLess(cpu_seconds(proc_r.pid) - c0, 0.5)
                self.assertLess(len(os.listdir(f"/proc/{proc_r.pid}/fd")), FD_LIMIT)
                log = text(lr.name)
                self.assertIn("half the open-file limit 256", log)  # max_connections lowered, and said so
                self.assertLess(log.count("refusing"), 20)  # refusals are reported at most once a second

                # The flood leaves; a peer reserves on the relay.
                for s in self.socks:
                    s.close()
                self.socks = []
                time.sleep(0.5)
                aqua(a, "init", "--listen", "/memory/relay-fds-a")
                path = os.path.join(a, "config.yaml")
                c = text(path)
                c = c[:c.index("transports:")] + (
                    "transports:\n  - plugin: relay_v2\n    listen: [/p2p-circuit]\n"
                    f"    settings:\n      relays: {relay_addr}\n")
                with open(path, "w") as f:
                    f.write(c)
                proc_a, ev_a = self.start(a, la, "serve")
                self.assertTrue(any(x.startswith(relay_addr + "/p2p-circuit/") for x in ev_a["listen"]), ev_a)
                st = json.loads(aqua(r, "status", "--json").stdout)
                self.assertEqual(st["relay"]["reservations"], 1, st)
                for p in (proc_a, proc_r):
                    p.send_signal(signal.SIGTERM)
                    p.wait(timeout=60)
                    self.assertEqual(p.returncode, 0)


if __name__ == "__main__":
    AQUA = sys.argv.pop(1)
    unittest.main()
