#!/usr/bin/env python3
"""An independent implementation of aqua's wire formats, written from docs/protocol/*.md alone (js/spec/: cards,
X3DH, double ratchet, envelopes, the inner frames, the relay mailbox, over js-libp2p), against the aqua binary:

  1. it reproduces the spec's test vectors (tests/data/vectors/e2ee.txt) byte for byte;
  2. carol (js, a new identity bob never heard of) deposits a prekey envelope for bob on an aqua relay's mailbox
     while bob is offline; bob's daemon fetches it: his inbox has her text, her peer ID as sender, trust unknown;
  3. bob's ack has a path to carol although she is no contact of his and offline (the card in her envelope names
     her circuit address): it waits on the relay, and carol fetches and opens it;
  4. bob replies (`aqua send <carol's peer ID>`: the session her envelope started), carol opens the reply and acks
     it with a session envelope after a DH ratchet step; bob's outbox says delivered;
  5. the live path through a relay (js/spec/carol_live.mjs, ratchet.mjs): carol reserves on an aqua relay with
     js-libp2p, bob (`aqua init --relay`) adds her card and sends with --wait: he dials her circuit, she opens his
     prekey envelope as the X3DH responder and acks it on his /aqua/msg stream; then she sends to him on that
     stream and over a connection she dials, and he acks each; a dial-only peer (carol_dialer.mjs) that sends and
     closes its write half at once still gets its ack;
  6. the direct zmq transport, with its own ZMTP 3.1 and Noise XX (js/spec/zmtp.mjs, noise.mjs, link.mjs): noise.md's
     test vector, a dialler that refuses a listener with another identity, a first message over zmq and its ack,
     and black-box checks of the listener's limits (checks.mjs: each as noise.md and transports.md say), after
     which the daemon still serves;
  7. the relay card directory (js/spec/card_dir.mjs): a js peer publishes its card on an aqua relay it reserves on,
     looks up a daemon's card and verifies it, gets each documented refusal (REFUSED, BAD_CARD, STALE_CARD,
     NOT_FOUND, MALFORMED_MESSAGE, UNEXPECTED_MESSAGE); the daemon, which never saw it, sends to its peer ID: it
     finds the card on the relay, and the js peer opens the message as X3DH responder and acks it.

usage: spec_client_test.py AQUA JS_DIR VECTORS_FILE
Exit 0 = pass, 1 = fail, 77 = skip (node or js node_modules missing). 127.0.0.1 only; every process started here
is bounded by a timeout and killed by its PID.
"""
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import daemons  # noqa: E402
from daemons import aqua, free_port  # noqa: E402

AQUA, JS_DIR, VECTORS = sys.argv[1], sys.argv[2], sys.argv[3]
SPEC = os.path.join(JS_DIR, "spec")
daemons.AQUA = AQUA
procs = []


def node_js(script, *args, timeout=90):
    """`node js/spec/<script> args...`: (exit code, stdout, stderr)."""
    p = subprocess.run(["node", os.path.join(SPEC, script), *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def carol(mode, state, *args):
    """carol.mjs (the mailbox peer) in `mode`: its JSON result line; it must succeed."""
    rc, out, err = node_js("carol.mjs", mode, "--state", state, *args)
    if rc != 0:
        raise AssertionError(f"carol {mode}: rc={rc}\n{out}\n{err}")
    return json.loads(out.strip().splitlines()[-1])


def serve(d, log, *args):
    p = subprocess.Popen([AQUA, "--dir", d, *args, "--json"], stdout=subprocess.PIPE, stderr=log, text=True)
    procs.append(p)
    ev = json.loads(p.stdout.readline() or "{}")  # bounded: a daemon that fails to start exits
    if ev.get("event") != "serving":
        raise AssertionError(f"{args} did not start: {ev}")
    return p, ev


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)


def until(what, cond, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def main():
    if shutil.which("node") is None or not os.path.isdir(os.path.join(JS_DIR, "node_modules")):
        print("skip: node or tests/interop/js/node_modules missing (scripts/setup.sh runs npm ci)")
        return 77
    v = subprocess.run(["node", os.path.join(SPEC, "vectors.mjs"), VECTORS], capture_output=True, text=True, timeout=60)
    print(v.stdout.strip())
    if v.returncode != 0:
        raise AssertionError(f"the spec's test vectors: {v.stderr}")
    with tempfile.TemporaryDirectory(prefix="aqua-spec-") as tmp:
        r, b = os.path.join(tmp, "relay"), os.path.join(tmp, "bob")
        state = os.path.join(tmp, "carol.json")
        port = free_port()
        aqua(r, "init", "--listen", "/memory/spec-relay")
        aqua(b, "init", "--listen", "/memory/spec-bob")
        with open(os.path.join(tmp, "relay.log"), "w") as rlog, open(os.path.join(tmp, "bob.log"), "w") as blog:
            proc_r, ev_r = serve(r, rlog, "relay", "serve", "--listen", f"/ip4/127.0.0.1/tcp/{port}")
            relay = ev_r["relay"][0]
            with open(os.path.join(b, "config.yaml"), "a") as f:
                f.write(f"  - plugin: relay_v2\n    listen: [/p2p-circuit]\n    settings: {{relays: {relay}}}\n")
            with open(os.path.join(tmp, "bob.card"), "w") as f:
                f.write(aqua(b, "card", "export"))
            with open(os.path.join(tmp, "bob.json"), "w") as f:
                f.write(aqua(b, "card", "export", "--json"))

            def held():
                return json.loads(aqua(r, "status", "--json"))["relay"]["mailbox"]["held"]

            # 2. carol deposits while bob is offline.
            sent = carol("send", state, "--card", os.path.join(tmp, "bob.card"), "--json", os.path.join(tmp, "bob.json"),
                         "--relay", relay, "--text", "hello bob, from an implementation of the specs")
            assert sent["event"] == "deposited" and sent["name"] == "OK", sent
            proc_b, _ = serve(b, blog, "serve")
            msgs = until("carol's message in bob's inbox",
                         lambda: json.loads(aqua(b, "inbox", "list", "--json"))["messages"])
            m = msgs[0]
            assert (m["sender"], m["text"], m["trust"], m["quarantined"], m["transport"]) == (
                sent["carol"], "hello bob, from an implementation of the specs", "unknown", True, "mailbox"), m
            # 3. bob's ack waits on the relay for carol (offline, no contact of bob's); she opens it.
            until("bob's ack on the relay", lambda: held() >= 1)
            got = carol("fetch", state, "--relay", relay, "--wait-ms", "3000")
            acks = [x for x in got["mail"] if x.get("opened", {}).get("inner_type") == 2]
            assert acks and acks[0]["opened"]["acks_our_message"], got
            # 4. bob replies over the session carol started; she opens it and acks it (kind 2, a DH ratchet step).
            reply_id = json.loads(aqua(b, "send", sent["carol"], "hello carol", "--json"))["message_id"]
            until("bob's reply on the relay", lambda: held() >= 1)
            got = carol("fetch", state, "--relay", relay, "--wait-ms", "3000")
            texts = [x["opened"].get("text") for x in got["mail"] if "opened" in x]
            assert "hello carol" in texts, got
            acked = carol("ack", state, "--relay", relay)
            assert acked["name"] == "OK" and reply_id in acked["acked"], acked

            def reply_state():
                out = json.loads(aqua(b, "outbox", "list", "--json"))["messages"]
                return [x["state"] for x in out if x["message_id"] == reply_id] == ["delivered"]
            until("bob's reply delivered", reply_state)
            stop(proc_b)
            stop(proc_r)
        live_phase(tmp)
        zmq_phase(tmp)
        card_directory_phase(tmp)
    print("independent implementation: vectors, first contact through a relay mailbox, ack, reply and its ack, "
          "the live path through a relay both ways, the zmq wire and its limits: OK")
    return 0


class LivePeer:
    """carol_live.mjs: its JSON events on stdout, read by a thread; commands on stdin."""

    def __init__(self, relay, out, log):
        self.p = subprocess.Popen(["node", os.path.join(SPEC, "carol_live.mjs"), "--relay", relay, "--out", out],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        procs.append(self.p)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            try:
                self.q.put(json.loads(line))
            except ValueError:
                pass

    def wait(self, event, timeout=40):
        end = time.time() + timeout
        while time.time() < end:
            try:
                ev = self.q.get(timeout=max(0.05, end - time.time()))
            except queue.Empty:
                break
            if ev.get("event") == "error":
                raise AssertionError(f"carol_live: {ev}")
            if ev.get("event") == event:
                return ev
        raise AssertionError(f"carol_live: no {event} event")

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()


def live_phase(tmp):
    r, b = os.path.join(tmp, "relay-live"), os.path.join(tmp, "bob-live")
    port = free_port()
    aqua(r, "init", "--listen", "/memory/spec-live-relay")
    with open(os.path.join(tmp, "relay-live.log"), "w") as rlog, open(os.path.join(tmp, "bob-live.log"), "w") as blog, \
            open(os.path.join(tmp, "carol-live.log"), "w") as clog:
        proc_r, ev_r = serve(r, rlog, "relay", "serve", "--listen", f"/ip4/127.0.0.1/tcp/{port}")
        relay = ev_r["relay"][0]
        aqua(b, "init", "--listen", "/memory/spec-live-bob", "--relay", relay)
        carol = LivePeer(relay, tmp, clog)
        res = carol.wait("reserved")
        with open(res["card_file"]) as f:
            card = f.read().strip()
        proc_b, _ = serve(b, blog, "serve")
        aqua(b, "contacts", "add", card, "--alias", "carol")
        until("bob's reservation", lambda: any("p2p-circuit" in a for a in json.loads(aqua(b, "status", "--json"))["listen"]))
        sent = json.loads(aqua(b, "send", "carol", "hi carol", "--wait", "--timeout", "40s", "--json"))
        assert sent["state"] == "delivered", sent
        for how, text in (("send", "hi bob, on your stream"), ("dial-send", "hi bob, on a connection I dialled")):
            carol.cmd(f"{how} {text}")
            carol.wait("acked")

            def stored(text=text):
                return [m for m in json.loads(aqua(b, "inbox", "list", "--json"))["messages"] if m["text"] == text]
            m = until(f"'{text}' in bob's inbox", stored)[0]
            assert (m["sender"], m["trust"], m["quarantined"], m["transport"]) == (
                res["peer"], "unverified", False, "relay_v2"), m
        carol.cmd("quit")
        carol.p.wait(timeout=30)
        # A dial-only peer (no reservation, a card without addresses) that sends and closes its write half at once
        # still gets its ack on the stream: aqua closed its own half at the FIN, before the ack could leave.
        card_b = os.path.join(tmp, "bob-live.card")
        with open(card_b, "w") as f:
            f.write(aqua(b, "card", "export"))
        for fin in ([], ["--fin"]):
            rc, out, err = node_js("carol_dialer.mjs", "--bob-card", card_b, "--text", f"dial-only {fin}", *fin)
            res = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
            assert res.get("acked") is True, f"dial-only peer {fin}: no ack on its stream: {out} {err[-1500:]}"
        stop(proc_b)
        stop(proc_r)


def zmq_phase(tmp):
    rc, out, err = node_js("noise_vectors.mjs")
    assert rc == 0, f"noise.md test vector: {out} {err}"
    d = os.path.join(tmp, "dora")  # a daemon reached directly over zmq
    port = free_port()
    aqua(d, "init", "--listen", f"/ip4/127.0.0.1/tcp/{port}")
    with open(os.path.join(tmp, "dora.log"), "w") as log:
        proc, _ = serve(d, log, "serve")
        card = os.path.join(tmp, "dora.card")
        with open(card, "w") as f:
            f.write(aqua(d, "card", "export"))
        other = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5"
        rc, out, err = node_js("carol_zmq.mjs", "--port", str(port), "--card", card, "--expect-peer", other)
        assert '"error":"wrong_recipient"' in out, f"the dialler did not refuse another identity: {out} {err}"
        state = os.path.join(tmp, "carol-zmq.json")
        text = "hello over ZMTP and Noise, from the specs"
        rc, out, err = node_js("carol_zmq.mjs", "--port", str(port), "--card", card, "--text", text, "--state", state)
        assert '"event":"acked"' in out, f"no ack over zmq: {out} {err}"
        with open(state) as f:
            carol = json.load(f)["carol"]
        msgs = json.loads(aqua(d, "inbox", "list", "--json"))["messages"]
        assert [(m["sender"], m["text"], m["transport"]) for m in msgs] == [(carol, text, "zmq")], msgs
        rc, out, err = node_js("checks.mjs", "--port", str(port), "--card", card, "--aqua", AQUA, "--dir", d,
                               timeout=200)
        print(out.strip())
        assert rc == 0, f"checks of the zmq listener: {out} {err[-2000:]}"
        json.loads(aqua(d, "status", "--json"))  # still serving
        stop(proc)


def card_directory_phase(tmp):
    r, b = os.path.join(tmp, "relay-cards"), os.path.join(tmp, "bob-cards")
    port = free_port()
    aqua(r, "init", "--listen", "/memory/spec-cards-relay")
    with open(os.path.join(tmp, "relay-cards.log"), "w") as rlog, open(os.path.join(tmp, "bob-cards.log"), "w") as blog:
        proc_r, ev_r = serve(r, rlog, "relay", "serve", "--listen", f"/ip4/127.0.0.1/tcp/{port}")
        relay = ev_r["relay"][0]
        aqua(b, "init", "--listen", "/memory/spec-cards-bob", "--relay", relay)
        proc_b, _ = serve(b, blog, "serve")
        bob = json.loads(aqua(b, "id", "--json"))["peer_id"]
        until("bob's card on the relay",
              lambda: json.loads(aqua(r, "status", "--json"))["relay"]["card_directory"]["cards"] >= 1)
        rc, out, err = node_js("card_dir.mjs", "--relay", relay, "--peer", bob, "--aqua", AQUA, "--dir", b,
                               timeout=200)
        print(out.strip().splitlines()[-1] if out.strip() else "")
        assert rc == 0, f"card directory client: rc={rc}\n{out}\n{err[-3000:]}"
        stop(proc_b)
        stop(proc_r)


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        for p in procs:  # only the processes this test started, by PID
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    sys.exit(rc)
