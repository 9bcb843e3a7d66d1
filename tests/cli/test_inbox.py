#!/usr/bin/env python3
"""aqua inbox watch/list/read/ack/delete and outbox list, with real processes:
bob runs `aqua inbox watch` (NDJSON on stdout), alice's process sends over
zmq on 127.0.0.1. Usage: test_inbox.py <aqua> <crash_sender> <store_put>"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from daemons import free_port

AQUA = SENDER = PUT = None


def aqua(d, *args, check=0):
    p = subprocess.run([AQUA, "--dir", d, *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == check, f"{args}: rc={p.returncode} {p.stderr}"
    return p.stdout


class Inbox(unittest.TestCase):
    def test_watch_streams_ndjson_and_the_store_commands_work(self):
        with tempfile.TemporaryDirectory(prefix="aqua-inbox-") as tmp:
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            ida = json.loads(aqua(a, "init", "--json"))["peer_id"]
            idb = json.loads(aqua(b, "init", "--json"))["peer_id"]
            pa, pb = free_port(), free_port()
            for d, me, peer, port in ((a, "a", idb, pb), (b, "b", ida, pa)):
                with open(os.path.join(d, "config.yaml"), "w") as f:
                    f.write(f"node: {{name: {me}}}\ncomponents:\n  routing:\n    routes: [{{peer: {peer}, "
                            f"address: /ip4/127.0.0.1/tcp/{port}}}]\ntransports:\n  - plugin: zmq\n"
                            f"    listen: [/ip4/127.0.0.1/tcp/{pa if d == a else pb}]\n")
            aqua(a, "contacts", "add", aqua(b, "card", "export", "--address", f"/ip4/127.0.0.1/tcp/{pb}").strip())
            aqua(b, "contacts", "add", aqua(a, "card", "export", "--address", f"/ip4/127.0.0.1/tcp/{pa}").strip(),
                 "--alias", "alice")
            watch = subprocess.Popen([AQUA, "--dir", b, "inbox", "watch", "--json"], stdout=subprocess.PIPE, text=True)
            try:
                time.sleep(0.5)
                sent = subprocess.run([SENDER, os.path.join(a, "config.yaml"), idb, "5", "1"], capture_output=True,
                                      text=True, timeout=60)
                self.assertEqual(sent.returncode, 0, sent.stderr)
                lines = [json.loads(watch.stdout.readline()) for _ in range(5)]
                # The watch holds bob's node: a store command says so rather than blame a daemon that is not there.
                p = subprocess.run([AQUA, "--dir", b, "inbox", "list"], capture_output=True, text=True, timeout=60)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn("an 'aqua inbox watch' run without a daemon", p.stderr)
                # So do the daemon's clients: starting a daemon, as they used to say, would fail (store_locked).
                p = subprocess.run([AQUA, "--dir", b, "status"], capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 5, p.stderr)
                self.assertIn(f"but another aqua process (pid {watch.pid}) holds its node", p.stdout)
                p = subprocess.run([AQUA, "--dir", b, "send", ida, "x"], capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 5, p.stderr)
                self.assertIn(f"but another aqua process (pid {watch.pid}) holds its node", p.stderr)
            finally:
                watch.send_signal(signal.SIGINT)
                watch.wait(timeout=30)
            self.assertEqual(watch.returncode, 0)
            self.assertEqual(sorted(m["text"] for m in lines), [f"message {k}" for k in range(5)])
            self.assertTrue(all(m["sender"] == ida and m["trust"] == "unverified" for m in lines))
            self.assertTrue(all(m["sender_alias"] == "alice" for m in lines), lines)
            listed = json.loads(aqua(b, "inbox", "list", "--json"))["messages"]
            self.assertEqual(len(listed), 5)
            self.assertTrue(all(m["sender_alias"] == "alice" for m in listed), listed)
            self.assertIn("  alice  message ", aqua(b, "inbox", "list"))  # the text view names the contact
            # watching (here without a daemon: the watch runs bob's node) does not mark messages read, as the daemon's
            unread = json.loads(aqua(b, "inbox", "list", "--unread", "--json"))["messages"]
            self.assertEqual(len(unread), 5)
            seq = listed[0]["seq"]
            self.assertEqual(json.loads(aqua(b, "inbox", "read", str(seq), "--json"))["seq"], seq)
            aqua(b, "inbox", "ack", str(seq))
            aqua(b, "inbox", "delete", str(seq))
            self.assertEqual(len(json.loads(aqua(b, "inbox", "list", "--json"))["messages"]), 4)
            aqua(b, "inbox", "read", str(seq), check=1)
            self.assertEqual(len(json.loads(aqua(b, "inbox", "list", "--limit", "2", "--json"))["messages"]), 2)
            since = json.loads(aqua(b, "inbox", "list", "--since", str(listed[3]["seq"]), "--json"))["messages"]
            self.assertEqual([m["seq"] for m in since], [listed[4]["seq"]])
            out = json.loads(aqua(a, "outbox", "list", "--json"))["messages"]
            self.assertEqual(sorted(m["state"] for m in out), ["delivered"] * 5)
            # Its filters work on the store too (no daemon here): the last two to bob, none pending.
            last = json.loads(aqua(a, "outbox", "list", "--to", idb, "--last", "2", "--json"))["messages"]
            self.assertEqual([m["message_id"] for m in last], [m["message_id"] for m in out[-2:]])
            self.assertEqual(json.loads(aqua(a, "outbox", "list", "--state", "queued", "--json"))["messages"], [])
            # Deleting the newest message (no daemon: on the store) does not give its number to the next one.
            newest = listed[4]["seq"]
            aqua(b, "inbox", "delete", str(newest))
            watch = subprocess.Popen([AQUA, "--dir", b, "inbox", "watch", "--json", "--since", str(newest)],
                                     stdout=subprocess.PIPE, text=True)  # a watcher resuming after what it processed
            try:
                time.sleep(0.5)
                sent = subprocess.run([SENDER, os.path.join(a, "config.yaml"), idb, "6", "1"], capture_output=True,
                                      text=True, timeout=60)  # ids 0-4 are retries of stored messages: only "message 5"
                self.assertEqual(sent.returncode, 0, sent.stderr)
                line = json.loads(watch.stdout.readline())
            finally:
                watch.send_signal(signal.SIGINT)
                watch.wait(timeout=30)
            self.assertEqual((line["text"], line["seq"]), ("message 5", newest + 1))
            # A store that lost its CURRENT file is reported, never read as empty nor started afresh.
            os.remove(os.path.join(b, "store", "CURRENT"))
            for args in (("inbox", "list"), ("store", "check"), ("contacts", "list")):
                p = subprocess.run([AQUA, "--dir", b, *args], capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 1, (args, p.stdout, p.stderr))
                self.assertIn("no CURRENT file; run 'aqua store repair'", p.stderr)
            repaired = json.loads(aqua(b, "store", "repair", "--json"))
            # Repaired on a copy; the store as it was is kept beside it (here: without its CURRENT file).
            self.assertEqual((repaired["ok"], repaired["repaired"], repaired["losses"]), (True, True, []))
            self.assertIn("the store did not open", repaired["notes"][0])  # no CURRENT: rebuilt from its files
            self.assertTrue(os.path.basename(repaired["kept"]).startswith("store.before-repair-"), repaired)
            self.assertFalse(os.path.exists(os.path.join(repaired["kept"], "CURRENT")))
            self.assertEqual(sorted(n for n in os.listdir(b) if n.startswith("store")),
                             ["store", os.path.basename(repaired["kept"])])
            self.assertEqual(len(json.loads(aqua(b, "inbox", "list", "--json"))["messages"]), 4)
            # Records that do not decode (a newer aqua's, or damaged) are skipped by the node and the CLI, never
            # silently: the lists count them, the node warns at start, and `store check` names them (exit 1).
            sent_before = len(json.loads(aqua(a, "outbox", "list", "--json"))["messages"])
            self.assertEqual(json.loads(aqua(b, "store", "check", "--json"))["ok"], True)
            bad_in, bad_out = "i/00000000000000ff", "o/" + "ab" * 16
            for d, key in ((b, bad_in), (a, bad_out)):
                put = subprocess.run([PUT, os.path.join(d, "store"), key, "09000102"], capture_output=True, text=True,
                                     timeout=60)
                self.assertEqual(put.returncode, 0, put.stderr)
            p = subprocess.run([AQUA, "--dir", b, "inbox", "list", "--json"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            listed = json.loads(p.stdout)
            self.assertEqual((len(listed["messages"]), listed["unreadable"]), (4, 1))
            self.assertIn("warning: 1 inbox record could not be read", p.stderr)
            p = subprocess.run([AQUA, "--dir", a, "outbox", "list"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("warning: 1 outbox record could not be read", p.stderr)
            self.assertEqual(len(json.loads(aqua(a, "outbox", "list", "--json"))["messages"]), sent_before)
            p = subprocess.run([AQUA, "--dir", b, "store", "check"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("1 record that does not decode (the node skips it):", p.stdout)
            self.assertIn(f"  {bad_in}: unknown_version", p.stdout)
            p = subprocess.run([AQUA, "--dir", a, "store", "check", "--json"], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            report = json.loads(p.stdout)
            self.assertEqual((report["ok"], report["unreadable"]["count"]), (False, 1))
            self.assertEqual(report["unreadable"]["records"][0]["key"], bad_out)
            # The node (here the one `inbox watch` runs) says so when it loads the store.
            watch = subprocess.Popen([AQUA, "--dir", b, "inbox", "watch", "--json"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            try:
                time.sleep(1.5)
            finally:
                watch.send_signal(signal.SIGINT)
                _, err = watch.communicate(timeout=30)
            self.assertIn("mailbox: 1 inbox and 0 outbox records do not decode", err)
            # E2EE state that does not load: the node refuses to start on it, so `store check` names it too (it
            # said OK). Then without its engine record: the node refuses the orphaned sessions (it had started a
            # fresh engine and dropped them) and so does the check.
            # Another identity's key beside this store: the node refuses it, and so does the check now.
            key_a = os.path.join(a, "identity.key")
            with open(key_a) as f:
                saved = f.read()
            with open(os.path.join(b, "identity.key")) as f, open(key_a, "w") as g:
                g.write(f.read())
            p = subprocess.run([AQUA, "--dir", a, "store", "check"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn(f"the E2EE state belongs to {ida}, not to this node's key ({idb})", p.stdout)
            with open(key_a, "w") as g:
                g.write(saved)
            for value in ("09000102", None):
                put = subprocess.run([PUT, os.path.join(a, "store"), "e/meta", *([value] if value else ["--delete"])],
                                     capture_output=True, text=True, timeout=60)
                self.assertEqual(put.returncode, 0, put.stderr)
                p = subprocess.run([AQUA, "--dir", a, "store", "check"], capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn("  e/meta + e/s/: unknown_version: engine state version 9" if value else
                              "  e/s/: bad_session_state: ", p.stdout)
                self.assertIn("(the node will not start)", p.stdout)
                self.assertIn("problems (the node skips a record that does not decode, and does not start on E2EE "
                              "state that does not load):", p.stdout)
                p = subprocess.run([AQUA, "--dir", a, "inbox", "watch"], capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn("unknown_version" if value else "bad_session_state", p.stderr)
            self.assertIn("but not the engine record they belong to (e/meta): the store was damaged", p.stderr)


if __name__ == "__main__":
    AQUA, SENDER, PUT = sys.argv[1], sys.argv[2], sys.argv[3]
    unittest.main(argv=[sys.argv[0], "-v"])
