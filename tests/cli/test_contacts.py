#!/usr/bin/env python3
"""aqua card export and aqua contacts, each both ways the CLI runs them: on the
store itself (no daemon) and through a running `aqua serve` (which holds the
store): custom cards, verify/unblock of a blocked contact, re-adding a blocked
contact's card, and the exit codes of missing card files and alias clashes.
Usage: test_contacts.py <aqua>"""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

import daemons
from daemons import aqua

AQUA = None
DAY_MS = 24 * 3600 * 1000


def run(d, *args):
    return subprocess.run([AQUA, "--dir", d, *args], capture_output=True, text=True, timeout=120)


class Contacts(daemons.Processes):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.TemporaryDirectory(prefix="aqua-contacts-")
        self.a, self.b, self.c = (os.path.join(self.tmp.name, n) for n in "abc")
        for d in (self.a, self.b, self.c):
            aqua(d, "init")
        self.card_a = aqua(self.a, "card", "export").strip()
        self.card_c = aqua(self.c, "card", "export").strip()

    def tearDown(self):
        super().tearDown()
        self.tmp.cleanup()

    def modes(self):
        """Runs the rest of the test twice for b's data dir: without a daemon, then with `aqua serve` on it
        (contacts removed in between, so each run starts from none)."""
        yield "store"
        for c in json.loads(aqua(self.b, "contacts", "list", "--json"))["contacts"]:
            aqua(self.b, "contacts", "remove", c["peer_id"])
        log = open(os.path.join(self.tmp.name, "b.log"), "w")
        self.addCleanup(log.close)
        self.start(self.b, log, "serve")
        yield "daemon"

    def test_card_export_with_addresses_and_capabilities_works_while_the_daemon_runs(self):
        log = open(os.path.join(self.tmp.name, "a.log"), "w")
        self.addCleanup(log.close)
        proc, _ = self.start(self.a, log, "serve")
        status = json.loads(aqua(self.a, "status", "--json"))
        before = time.time() * 1000
        out = json.loads(aqua(self.a, "card", "export", "--json", "--address", "/ip4/127.0.0.1/tcp/42100",
                              "--capability", "research", "--capability", "news", "--validity-days", "7"))
        self.assertEqual(out["peer_id"], status["peer_id"])
        self.assertEqual(out["addresses"], ["/ip4/127.0.0.1/tcp/42100"])
        self.assertEqual(out["capabilities"], ["research", "news"])
        self.assertEqual(out["expires_ms"] - out["created_ms"], 7 * DAY_MS)
        self.assertGreaterEqual(out["created_ms"], before - 60000)
        # Signed by a's identity with a's keys: another node takes it as a's card, addresses and all.
        added = json.loads(aqua(self.c, "contacts", "add", out["card"], "--json"))
        self.assertEqual(added["peer_id"], status["peer_id"])
        shown = json.loads(aqua(self.c, "contacts", "list", "--json"))["contacts"][0]
        self.assertEqual(shown["addresses"], ["/ip4/127.0.0.1/tcp/42100"])
        # Capabilities alone: the daemon's own listen addresses, the config's validity.
        out = json.loads(aqua(self.a, "card", "export", "--json", "--capability", "research"))
        self.assertEqual(out["addresses"], status["listen"])
        self.assertEqual(out["expires_ms"] - out["created_ms"], 30 * DAY_MS)
        # A bad field is the same usage error as without a daemon.
        p = run(self.a, "card", "export", "--capability", "Not Valid")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("capability 'Not Valid' is not 1 to 64 characters", p.stderr)
        p = run(self.a, "card", "export", "--address", "nowhere", "--json")
        self.assertEqual(p.returncode, 2, p.stdout)
        self.assertIn("card address", json.loads(p.stdout)["error"]["message"])
        # The daemon's own card (status, plain export) is still the one it signed at start.
        self.assertEqual(aqua(self.a, "card", "export").strip(), status["card"])
        self.assertEqual(json.loads(aqua(self.a, "status", "--json"))["card"], status["card"])
        self.stop_all(proc)
        # Without a daemon, the store's keys sign it, as before.
        out = json.loads(aqua(self.a, "card", "export", "--json", "--capability", "research"))
        self.assertEqual((out["peer_id"], out["capabilities"]), (status["peer_id"], ["research"]))

    def test_verify_refuses_a_blocked_contact_until_it_is_unblocked(self):
        for mode in self.modes():
            with self.subTest(mode=mode):
                aqua(self.b, "contacts", "add", self.card_a, "--alias", "alice")
                aqua(self.b, "contacts", "block", "alice")
                p = run(self.b, "contacts", "verify", "alice")
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn("is blocked: unblock it first ('aqua contacts unblock alice')", p.stderr)
                p = run(self.b, "contacts", "verify", "alice", "--json")
                self.assertEqual(json.loads(p.stdout)["error"]["code"], "conflict")
                self.assertEqual(json.loads(aqua(self.b, "contacts", "show", "alice", "--json"))["trust"], "blocked")
                out = aqua(self.b, "contacts", "unblock", "alice")
                self.assertIn("now unverified", out)
                self.assertEqual(json.loads(aqua(self.b, "contacts", "verify", "alice", "--json"))["trust"], "verified")
                # Unblocking what is not blocked changes nothing.
                self.assertEqual(json.loads(aqua(self.b, "contacts", "unblock", "alice", "--json"))["trust"],
                                 "verified")

    def test_re_adding_a_blocked_contacts_card_says_it_stays_blocked(self):
        for mode in self.modes():
            with self.subTest(mode=mode):
                first = json.loads(aqua(self.b, "contacts", "add", self.card_a, "--alias", "alice", "--json"))
                self.assertEqual((first["trust"], first["refreshed"]), ("unverified", False))
                aqua(self.b, "contacts", "block", "alice")
                again = json.loads(aqua(self.b, "contacts", "add", self.card_a, "--json"))
                self.assertEqual((again["trust"], again["refreshed"], again["alias"]), ("blocked", True, "alice"))
                out = aqua(self.b, "contacts", "add", self.card_a)
                self.assertFalse(out.startswith("added"), out)
                self.assertIn("is blocked", out)
                self.assertIn("stays blocked", out)
                self.assertIn("'aqua contacts unblock alice'", out)
                self.assertEqual(json.loads(aqua(self.b, "contacts", "show", "alice", "--json"))["trust"], "blocked")
                # A known peer that is not blocked is refreshed, not "added" again.
                aqua(self.b, "contacts", "add", self.card_c, "--alias", "carol")
                self.assertTrue(aqua(self.b, "contacts", "add", self.card_c).startswith("refreshed the card of"))

    def test_a_taken_alias_is_a_conflict_not_bad_usage(self):
        for mode in self.modes():
            with self.subTest(mode=mode):
                aqua(self.b, "contacts", "add", self.card_a, "--alias", "x")
                p = run(self.b, "contacts", "add", self.card_c, "--alias", "x", "--json")
                self.assertEqual(p.returncode, 1, p.stdout)
                err = json.loads(p.stdout)["error"]
                self.assertEqual(err["code"], "conflict")
                self.assertIn("alias 'x' already names", err["message"])
                p = run(self.b, "contacts", "add", self.card_c, "--alias", "bad alias")  # malformed: usage
                self.assertEqual(p.returncode, 2, p.stderr)
                p = run(self.b, "contacts", "add", self.card_c, "--alias", "")  # not silently "no alias"
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("--alias is empty", p.stderr)

    def test_a_missing_card_file_fails_as_a_missing_send_file_does(self):
        missing = os.path.join(self.tmp.name, "nope.card")
        for mode in self.modes():
            with self.subTest(mode=mode):
                p = run(self.b, "contacts", "add", missing, "--json")
                self.assertEqual(p.returncode, 1, p.stdout)
                self.assertEqual(json.loads(p.stdout)["error"]["code"], "not_found")
                p = run(self.b, "send", "alice", "--file", missing)
                self.assertEqual(p.returncode, 1, p.stderr)
                empty = os.path.join(self.tmp.name, "empty.card")
                open(empty, "w").close()
                p = run(self.b, "contacts", "add", empty)
                self.assertEqual(p.returncode, 4, p.stderr)
                self.assertIn(f"card file '{empty}' is empty", p.stderr)


if __name__ == "__main__":
    AQUA = daemons.AQUA = sys.argv[1]
    unittest.main(argv=[sys.argv[0], "-v"])
