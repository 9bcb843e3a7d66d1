#!/usr/bin/env python3
"""`aqua serve`'s shutdown watchdog: a stop held up by an agent handler that never returns (the test plugin
tests/cli/plugins/stuck_agent.cpp) ends the process with exit 1 after the grace time instead of hanging.
The grace (30 s) is shortened through AQUA_TEST_SHUTDOWN_GRACE_MS.
Usage: test_serve_stop.py <aqua> <dir holding libaqua_agent_stuck.so>"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import daemons
from daemons import aqua

PLUGIN_DIR = None
GRACE_MS = 1500


class ServeStop(daemons.Processes):
    def test_a_stop_held_by_a_handler_that_never_returns_ends_with_exit_1_after_the_grace(self):
        with tempfile.TemporaryDirectory(prefix="aqua-stop-") as tmp:
            d = os.path.join(tmp, "d")
            entered = os.path.join(tmp, "entered")
            aqua(d, "init")
            with open(os.path.join(d, "config.yaml"), "a") as f:
                f.write(f"agents:\n  - plugin: stuck\n    settings: {{entered: {entered}}}\n")
            os.environ["AQUA_PLUGIN_PATH"] = PLUGIN_DIR
            os.environ["AQUA_TEST_SHUTDOWN_GRACE_MS"] = str(GRACE_MS)
            try:
                with open(os.path.join(tmp, "serve.log"), "w") as log:
                    proc, _ = self.start(d, log, "serve")
            finally:
                del os.environ["AQUA_PLUGIN_PATH"], os.environ["AQUA_TEST_SHUTDOWN_GRACE_MS"]
            deadline = time.monotonic() + 30  # the agents start after "serving"; then their cards are contacts
            while time.monotonic() < deadline and '"stuck"' not in aqua(d, "contacts", "list", "--json"):
                time.sleep(0.1)
            aqua(d, "send", "stuck", "hang, please")
            while not os.path.exists(entered) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertTrue(os.path.exists(entered), "the agent's handler never ran")
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.fail("serve did not end a stop held by a handler that never returns")
            took = time.monotonic() - t0
            self.assertEqual(rc, 1)
            self.assertGreaterEqual(took, GRACE_MS / 1000 - 0.2)
            with open(os.path.join(tmp, "serve.log")) as f:
                self.assertIn(f"the stop did not finish within {GRACE_MS} ms", f.read())

    def test_a_signal_while_a_plugin_loads_stops_before_anything_is_served(self):
        # A factory that takes its time (here 2.5 s): the SIGTERM that came meanwhile ended the process only after
        # it had started the node, the control API and the agents (and it said "serving").
        with tempfile.TemporaryDirectory(prefix="aqua-stop-") as tmp:
            d = os.path.join(tmp, "d")
            aqua(d, "init")
            with open(os.path.join(d, "config.yaml"), "a") as f:
                f.write("agents:\n  - plugin: stuck\n    settings: {factory_ms: '2500'}\n")
            env = dict(os.environ, AQUA_PLUGIN_PATH=PLUGIN_DIR)
            rc, out, err = daemons.signalled([daemons.AQUA, "--dir", d, "serve"], 0.5, signal.SIGTERM, env=env)
            self.assertEqual(rc, 0, err)
            self.assertIn("aqua: stopped on SIGTERM while loading plugins; nothing was served", out)
            self.assertNotIn("serving as", out)
            self.assertFalse(os.path.exists(os.path.join(d, "control.sock")))


if __name__ == "__main__":
    daemons.AQUA = sys.argv.pop(1)
    PLUGIN_DIR = sys.argv.pop(1)
    unittest.main(verbosity=2)
