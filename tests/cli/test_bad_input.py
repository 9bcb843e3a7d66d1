#!/usr/bin/env python3
"""Bad input gets a precise error and the exit code of README's table, with
real processes: store commands on a data dir that is not one yet, and control
API arguments that name message IDs (through a running `aqua serve`).
Usage: test_bad_input.py <aqua> <source dir>"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import daemons
from daemons import aqua

AQUA = SRC = None


def run(d, *args):
    return subprocess.run([AQUA, "--dir", d, *args], capture_output=True, text=True, timeout=120)


class BadInput(daemons.Processes):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.TemporaryDirectory(prefix="aqua-bad-input-")

    def tearDown(self):
        super().tearDown()
        self.tmp.cleanup()

    def test_store_commands_on_a_dir_without_identity_say_to_init_and_exit_4(self):
        nowhere = os.path.join(self.tmp.name, "nowhere")
        for action in ("check", "repair"):
            p = run(nowhere, "store", action)
            self.assertEqual(p.returncode, 4, p.stderr)  # as 'inbox list', 'contacts list', 'serve' there
            self.assertIn(f"run 'aqua --dir {nowhere} init' first", p.stderr)
            p = run(nowhere, "store", action, "--json")
            self.assertEqual(json.loads(p.stdout)["error"]["code"], "no_identity")
        self.assertFalse(os.path.exists(nowhere))
        self.assertEqual(run(nowhere, "inbox", "list").returncode, 4)
        # An identity whose node never ran: no store yet is an operation failure that says why.
        fresh = os.path.join(self.tmp.name, "fresh")
        aqua(fresh, "init")
        p = run(fresh, "store", "check")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("the node has not run yet", p.stderr)

    def test_a_usage_error_points_at_the_help_of_the_command_it_is_in(self):
        # It always said "Run 'aqua --help'", whose page does not list a subcommand's options.
        d = os.path.join(self.tmp.name, "usage")
        p = run(d, "inbox", "watch", "--since", "-1")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--since: '-1' is not a whole number", p.stderr)
        self.assertIn("Run 'aqua inbox watch --help' for usage.", p.stderr)
        p = run(d, "send", "--json")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(json.loads(p.stdout)["error"]["message"], "to is required (see 'aqua send --help')")
        p = run(d, "store", "frob")
        self.assertIn("unknown command 'frob' for 'aqua store' (it knows: check, repair)", p.stderr)
        self.assertIn("Run 'aqua store --help' for usage.", p.stderr)
        self.assertIn("Run 'aqua --help' for usage.", run(d, "bogus").stderr)
        self.assertFalse(os.path.exists(d))

    def test_message_id_arguments_must_be_message_ids(self):
        sys.path.insert(0, os.path.join(SRC, "examples", "control_client"))
        import aqua_client  # noqa: E402
        d = os.path.join(self.tmp.name, "a")
        aqua(d, "init")
        log = open(os.path.join(self.tmp.name, "a.log"), "w")
        self.addCleanup(log.close)
        proc, _ = self.start(d, log, "serve")
        with aqua_client.AquaClient.for_data_dir(d, timeout=30) as c:
            for bad in ("not-hex", "zz" * 16, "ab", "ab" * 17, " " + "ab" * 16):
                with self.subTest(after=bad):
                    with self.assertRaises(aqua_client.AquaError) as err:
                        c.call("outbox.list", after=bad)
                    self.assertEqual(err.exception.code, "invalid_argument")
                    self.assertIn("outbox.list: 'after' must be a message ID (32 hex digits)", err.exception.message)
                with self.subTest(message_id=bad):
                    with self.assertRaises(aqua_client.AquaError) as err:
                        c.call("send", to="nobody", text="x", message_id=bad)
                    self.assertEqual(err.exception.code, "invalid_argument")
                    self.assertIn("send: 'message_id' must be a message ID (32 hex digits)", err.exception.message)
            # Well-formed cursors, in either case, list (an empty outbox here).
            for good in ("", "AB" * 16, "ab" * 16):
                self.assertEqual(c.call("outbox.list", after=good)["messages"], [])
        self.stop_all(proc)


if __name__ == "__main__":
    AQUA = daemons.AQUA = sys.argv[1]
    SRC = sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])
