#!/usr/bin/env python3
"""Card renewal (docs/protocol/cards.md, "Renewal"; docs/protocol/sessions.md, "Signed prekey rotation") with real processes
on 127.0.0.1: a relay and three daemons inited with `--relay`.
  * `aqua card renew --rotate` re-signs bob's card with a new signed prekey, durably, and offers it on the relay:
    a peer that looks bob up finds the new card and reaches bob;
  * a peer holding the card from before still reaches bob, also after bob restarted (the previous signed prekey is
    kept in bob's store), and bob's card after the restart names the new signed prekey;
  * a second rotation while the previous one is still needed is refused; `card renew` without a daemon says so.
Usage: test_card_renewal.py <aqua>"""
import json
import os
import sys
import tempfile
import unittest

import daemons
from daemons import aqua, free_port


class Renewal(daemons.Processes):
    def serve(self, tmp, d, *args):
        log = open(os.path.join(tmp, os.path.basename(d) + ".log"), "a")
        p, ev = self.start(d, log, *args)
        log.close()
        return p, ev

    def inbox(self, d):
        return [(m["sender"], m["text"]) for m in json.loads(aqua(d, "inbox", "list", "--json"))["messages"]]

    def test_a_renewed_card_reaches_new_peers_and_older_copies_still_work(self):
        with tempfile.TemporaryDirectory(prefix="aqua-renewal-") as tmp:
            r = os.path.join(tmp, "relay")
            aqua(r, "init", "--listen", "/memory/renewal-relay")
            proc_r, ev = self.serve(tmp, r, "relay", "serve", "--listen", f"/ip4/127.0.0.1/tcp/{free_port()}")
            relay_addr = ev["relay"][0]
            a, b, c = (os.path.join(tmp, n) for n in ("a", "b", "c"))
            id_a, id_b, id_c = (json.loads(aqua(d, "init", "--json", "--listen", f"/memory/renewal-{n}", "--relay",
                                                relay_addr))["peer_id"] for d, n in ((a, "a"), (b, "b"), (c, "c")))
            self.assertIn("no daemon is running", daemons.aqua_stderr(b, "card", "renew", check=5))
            proc_b, _ = self.serve(tmp, b, "serve")
            old = json.loads(aqua(b, "card", "export", "--json"))
            self.assertEqual(old["signed_prekey"]["id"], 1)
            aqua(a, "contacts", "add", old["card"], "--alias", "bob")  # alice holds the card from before

            new = json.loads(aqua(b, "card", "renew", "--rotate", "--json"))
            self.assertTrue(new["signed_prekey_rotated"], new)
            self.assertEqual(new["signed_prekey"]["id"], 2)
            self.assertEqual(new["peer_id"], id_b)
            self.assertGreater(new["expires_ms"], old["expires_ms"])
            self.assertEqual(json.loads(aqua(b, "card", "export", "--json"))["card"], new["card"])
            err = daemons.aqua_stderr(b, "card", "renew", "--rotate", check=1)
            self.assertIn("the previous signed prekey stays for another", err)
            kept = json.loads(aqua(b, "card", "renew", "--json"))  # without --rotate: re-signed, same prekey
            self.assertEqual((kept["signed_prekey_rotated"], kept["signed_prekey"]["id"]), (False, 2))
            # The text form prints the card alone on stdout (what happened goes to stderr): it can be saved and added.
            self.assertIn("aqua: renewed the card of " + id_b, daemons.aqua_stderr(b, "card", "renew", check=0))
            card_file = os.path.join(tmp, "bob.card")
            with open(card_file, "w") as f:
                f.write(aqua(b, "card", "renew"))
            d = os.path.join(tmp, "d")
            aqua(d, "init", "--listen", "/memory/renewal-d")
            self.assertEqual(json.loads(aqua(d, "contacts", "add", card_file, "--json"))["peer_id"], id_b)
            self.assertIn(daemons.card_state(b)[0], ("published",
                                                 "publishing the renewed card (the relay holds the one before)"))
            self.wait_for("bob's renewed card published", lambda: daemons.card_state(b) == ["published"])
            status = aqua(b, "status")
            self.assertIn(" card: published\n", status)
            self.assertIn("card: signed prekey 2, valid until ", status)

            # carol has no card of bob's: she finds the renewed one on the relay and reaches bob.
            proc_c, _ = self.serve(tmp, c, "serve")
            latest = json.loads(aqua(b, "card", "export", "--json"))
            found = json.loads(aqua(c, "contacts", "lookup", id_b, "--json"))
            self.assertEqual(found["card_expires_ms"], latest["expires_ms"])
            sent = json.loads(aqua(c, "send", id_b, "from the new card", "--wait", "--timeout", "30s", "--json"))
            self.assertEqual(sent["state"], "delivered", sent)

            # bob restarts: the rotation is in his store; alice's copy (signed prekey 1) still opens.
            self.stop_all(proc_b)
            proc_b, _ = self.serve(tmp, b, "serve")
            self.assertEqual(json.loads(aqua(b, "card", "export", "--json"))["signed_prekey"]["id"], 2)
            proc_a, _ = self.serve(tmp, a, "serve")
            sent = json.loads(aqua(a, "send", "bob", "from the old card", "--wait", "--timeout", "30s", "--json"))
            self.assertEqual(sent["state"], "delivered", sent)
            got = self.wait_for("bob's inbox", lambda: len(self.inbox(b)) == 2 and self.inbox(b))
            self.assertEqual(sorted(got), sorted([(id_c, "from the new card"), (id_a, "from the old card")]))
            self.stop_all(proc_a, proc_b, proc_c, proc_r)


if __name__ == "__main__":
    daemons.AQUA = sys.argv.pop(1)
    unittest.main()
