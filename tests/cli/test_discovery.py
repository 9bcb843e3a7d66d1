#!/usr/bin/env python3
"""Card discovery (docs/protocol/card-directory.md) with real processes on 127.0.0.1: `aqua relay serve` and
daemons inited with `--relay`. `aqua send <PEER_ID>` to a peer that is no contact finds its card on the relay:
  * a peer online: delivered, the card added as an unverified contact;
  * a peer offline, after the relay restarted: its card is still there, the message waits on the relay's mailbox;
  * a peer no relay knows, and a node without relays: unknown_session, naming what the lookup found.
Usage: test_discovery.py <aqua>"""
import json
import os
import sys
import tempfile
import unittest

import daemons
from daemons import aqua, free_port

UNKNOWN = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"  # a valid peer ID no test node has


class Discovery(daemons.Processes):
    def relay(self, tmp, r, port):
        log = open(os.path.join(tmp, "relay.log"), "a")
        p, ev = self.start(r, log, "relay", "serve", "--listen", f"/ip4/127.0.0.1/tcp/{port}")
        log.close()
        return p, ev["relay"][0]

    def node(self, tmp, d):
        log = open(os.path.join(tmp, os.path.basename(d) + ".log"), "a")
        p, ev = self.start(d, log, "serve")
        log.close()
        return p, ev

    def setup_nodes(self, tmp, *names):
        r = os.path.join(tmp, "relay")
        aqua(r, "init", "--listen", "/memory/discovery-relay")
        port = free_port()
        proc_r, relay_addr = self.relay(tmp, r, port)
        dirs = [os.path.join(tmp, n) for n in names]
        ids = [json.loads(aqua(d, "init", "--json", "--listen", f"/memory/discovery-{n}", "--relay", relay_addr))[
            "peer_id"] for d, n in zip(dirs, names)]
        return r, port, proc_r, dirs, ids

    def test_send_to_a_peer_id_finds_its_card_on_the_relay(self):
        with tempfile.TemporaryDirectory(prefix="aqua-discovery-") as tmp:
            r, _, proc_r, (a, b), (id_a, id_b) = self.setup_nodes(tmp, "a", "b")
            proc_a, _ = self.node(tmp, a)
            proc_b, _ = self.node(tmp, b)
            self.assertEqual(json.loads(aqua(a, "contacts", "list", "--json"))["contacts"], [])
            self.wait_for("bob's status: card published", lambda: daemons.card_state(b) == ["published"])
            sent = json.loads(aqua(a, "send", id_b, "found you", "--wait", "--timeout", "30s", "--json"))
            self.assertEqual((sent["state"], sent.get("card_found")), ("delivered", True), sent)
            again = json.loads(aqua(a, "send", id_b, "again", "--wait", "--timeout", "30s", "--json"))
            self.assertNotIn("card_found", again)  # a contact now
            contacts = json.loads(aqua(a, "contacts", "list", "--json"))["contacts"]
            self.assertEqual([(c["peer_id"], c["trust"]) for c in contacts], [(id_b, "unverified")])
            got = json.loads(aqua(b, "inbox", "list", "--json"))["messages"]
            self.assertEqual([(m["sender"], m["text"]) for m in got], [(id_a, "found you"), (id_a, "again")])
            # bob answers by peer ID: alice's card came with her first message.
            back = json.loads(aqua(b, "send", id_a, "hello alice", "--wait", "--timeout", "30s", "--json"))
            self.assertEqual(back["state"], "delivered", back)
            self.stop_all(proc_a, proc_b, proc_r)

    def test_an_offline_peer_is_found_after_the_relay_restarted(self):
        with tempfile.TemporaryDirectory(prefix="aqua-discovery-") as tmp:
            r, port, proc_r, (b, c), (id_b, id_c) = self.setup_nodes(tmp, "b", "c")
            proc_b, _ = self.node(tmp, b)
            self.wait_for("bob's card published", lambda: "our card is published on" in
                          daemons.text(os.path.join(tmp, "b.log")))
            self.stop_all(proc_b, proc_r)
            proc_r, _ = self.relay(tmp, r, port)  # the directory is on the relay's disk
            proc_c, _ = self.node(tmp, c)
            sent = json.loads(aqua(c, "send", id_b, "while you were away", "--json"))
            self.assertEqual(sent["state"], "queued", sent)

            def held():
                return json.loads(aqua(r, "status", "--json"))["relay"]["mailbox"]["held"]
            self.wait_for("the message held on the relay", lambda: held() == 1)
            proc_b, _ = self.node(tmp, b)
            got = self.wait_for("bob's inbox", lambda: json.loads(aqua(b, "inbox", "list", "--json"))["messages"])
            self.assertEqual([(m["sender"], m["text"]) for m in got], [(id_c, "while you were away")])
            self.stop_all(proc_b, proc_c, proc_r)

    def test_contacts_lookup_adds_then_refreshes_a_card_from_the_relay(self):
        with tempfile.TemporaryDirectory(prefix="aqua-discovery-") as tmp:
            r, _, proc_r, (a, b), (id_a, id_b) = self.setup_nodes(tmp, "a", "b")
            err = daemons.aqua_stderr(a, "contacts", "lookup", id_b, check=5)  # the relays are the daemon's
            self.assertIn("no daemon is running", err)
            proc_a, _ = self.node(tmp, a)
            proc_b, _ = self.node(tmp, b)
            out = aqua(a, "contacts", "lookup", id_b, "--alias", "bob")
            self.assertEqual(out, f"added {id_b} as 'bob' from its card on a relay (unverified; compare safety codes "
                                  "with 'aqua contacts verify')\n")
            again = json.loads(aqua(a, "contacts", "lookup", id_b, "--json"))
            self.assertEqual((again["peer_id"], again["alias"], again["trust"], again["refreshed"], again["card_changed"]),
                             (id_b, "bob", "unverified", True, False))  # the relay holds the card alice has
            self.assertEqual(aqua(a, "contacts", "lookup", "bob"), f"the card of {id_b} ('bob') is up to date: its "
                                                                  "relays hold no newer one (unverified)\n")
            aqua(b, "card", "renew")  # bob's newer card reaches the relay (wait: its PUBLISH is asynchronous)
            self.wait_for("bob's renewed card on the relay", lambda: json.loads(
                aqua(a, "contacts", "lookup", id_b, "--json"))["card_changed"])
            self.assertTrue(any(x.endswith(f"/p2p-circuit/p2p/{id_b}") for x in again["addresses"]), again)
            by_alias = json.loads(aqua(a, "contacts", "lookup", "bob", "--json"))  # a contact's alias: a refresh
            self.assertEqual((by_alias["peer_id"], by_alias["refreshed"]), (id_b, True))
            self.assertIn("'nobody' is neither a peer ID",
                          daemons.aqua_stderr(a, "contacts", "lookup", "nobody", check=2))
            self.assertIn(f"alias 'bob' already names {id_b}",  # refused before asking the relays
                          daemons.aqua_stderr(a, "contacts", "lookup", UNKNOWN, "--alias", "bob", check=1))
            self.assertIn("own peer ID", daemons.aqua_stderr(a, "contacts", "lookup", id_a, check=2))
            self.assertIn(f"NOT_FOUND: no card for {UNKNOWN}",
                          daemons.aqua_stderr(a, "contacts", "lookup", UNKNOWN, check=1))
            self.assertIn("relay card directory: 2 cards", aqua(r, "status"))
            self.stop_all(proc_a, proc_b, proc_r)

    def test_a_card_names_every_relay_so_a_peer_on_the_second_one_reaches_it(self):
        with tempfile.TemporaryDirectory(prefix="aqua-discovery-") as tmp:
            relays = []
            for name in ("r1", "r2"):
                d = os.path.join(tmp, name)
                aqua(d, "init", "--listen", f"/memory/discovery-{name}")
                relays.append(self.relay(tmp, d, free_port()))
            (proc_r1, addr1), (proc_r2, addr2) = relays
            h, m = os.path.join(tmp, "h"), os.path.join(tmp, "m")
            id_h = json.loads(aqua(h, "init", "--json", "--listen", "/memory/discovery-h", "--relay", addr1,
                                   "--relay", addr2))["peer_id"]
            aqua(m, "init", "--listen", "/memory/discovery-m", "--relay", addr2)
            proc_h, _ = self.node(tmp, h)
            card = json.loads(aqua(h, "card", "export", "--json"))
            for relay in (addr1, addr2):  # listen(/p2p-circuit) gave only the first: the card named only relay 1
                self.assertIn(f"{relay}/p2p-circuit/p2p/{id_h}", card["addresses"])
            self.wait_for("h's card on relay 2", lambda: json.loads(aqua(os.path.join(tmp, "r2"), "status", "--json"))[
                "relay"]["card_directory"]["cards"] >= 1)
            self.stop_all(proc_r1)
            proc_m, _ = self.node(tmp, m)
            sent = json.loads(aqua(m, "send", id_h, "through relay 2", "--wait", "--timeout", "30s", "--json"))
            self.assertEqual(sent["state"], "delivered", sent)
            self.stop_all(proc_h, proc_m, proc_r2)

    def test_a_peer_no_relay_knows_is_an_unknown_session_naming_the_lookup(self):
        with tempfile.TemporaryDirectory(prefix="aqua-discovery-") as tmp:
            r, _, proc_r, (a,), (id_a,) = self.setup_nodes(tmp, "a")
            proc_a, _ = self.node(tmp, a)
            err = daemons.aqua_stderr(a, "send", UNKNOWN, "anyone there?", check=1)
            self.assertIn(f"unknown_session: no session with {UNKNOWN} and no contact card to start one; looking "
                          f"its card up failed: relay_v2: no relay has its card", err)
            self.assertIn(f"card directory: NOT_FOUND: no card for {UNKNOWN}", err)
            self.assertIn("add its card first", err)
            p = daemons.subprocess.run([daemons.AQUA, "--dir", a, "send", UNKNOWN, "x", "--json"],
                                       capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(json.loads(p.stdout)["error"]["code"], "unknown_session")
            self.assertEqual(json.loads(aqua(a, "outbox", "list", "--json"))["messages"], [])  # nothing queued
            self.stop_all(proc_r)
            # A relay that is down is not "no card": the error says the relays could not be asked (try later).
            p = daemons.subprocess.run([daemons.AQUA, "--dir", a, "send", UNKNOWN, "x", "--json"],
                                       capture_output=True, text=True, timeout=120)
            e = json.loads(p.stdout)["error"]
            self.assertNotEqual(e["code"], "unknown_session", e)
            self.assertIn("its card could not be looked up: looking its card up failed: relay_v2: no relay could be "
                          "asked for its card", e["message"])
            self.stop_all(proc_a)
            # A relay that serves no directory (relay.mailbox: false) says so; the lookup ends not found.
            r2, plain = os.path.join(tmp, "relay2"), os.path.join(tmp, "plain")
            aqua(r2, "init", "--listen", "/memory/discovery-relay2")
            cfg = os.path.join(r2, "config.yaml")
            conf = daemons.text(cfg)
            with open(cfg, "w") as f:
                f.write(conf.replace("    serve: false\n", "    serve: false\n    mailbox: false\n"))
            proc_r2, relay2 = self.relay(tmp, r2, free_port())
            aqua(plain, "init", "--listen", "/memory/discovery-plain", "--relay", relay2)
            proc_p, _ = self.node(tmp, plain)
            err = daemons.aqua_stderr(plain, "send", UNKNOWN, "x", check=1)
            self.assertIn(f"no relay has its card ({relay2}: card directory: the relay has no card directory", err)
            states = self.wait_for("the plain node's card state", lambda: daemons.card_state(plain))
            self.assertTrue(states[0].startswith("not published: card directory: the relay has no card directory"),
                            states)
            self.stop_all(proc_p, proc_r2)
            # Without relays there is nowhere to look.
            lone = os.path.join(tmp, "lone")
            aqua(lone, "init", "--listen", "/memory/discovery-lone")
            proc_l, _ = self.node(tmp, lone)
            err = daemons.aqua_stderr(lone, "send", UNKNOWN, "x", check=1)
            self.assertIn(f"no session with {UNKNOWN} and no contact card to start one: add its card first", err)
            self.assertIn("or have both nodes use one relay (aqua init --relay), where cards are looked up", err)
            self.assertIn("no transport looks up cards (no relays configured)",
                          daemons.aqua_stderr(lone, "contacts", "lookup", UNKNOWN, check=1))
            self.stop_all(proc_l)


if __name__ == "__main__":
    daemons.AQUA = sys.argv.pop(1)
    unittest.main()
