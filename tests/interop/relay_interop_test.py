#!/usr/bin/env python3
"""aqua relay_client <-> js-libp2p 2.x over a js circuit relay v2 (127.0.0.1 only).

usage: relay_interop_test.py AQUA_RELAY_PEER JS_DIR [AQUA_RELAY_PLUGIN_PEER PLUGIN_DIR [AQUA_RELAY_SERVER_PEER]]
Exit 0 = pass, 1 = fail, 77 = skip (node or js node_modules missing).
Cases:
  a) aqua reserves on relay.mjs; `peer.mjs dial` reaches it through the relay (small frames + ping,
     then 2 x 300000-byte frames); aqua echoes "ack:"+frame.
  b) `peer.mjs listen` reserves on relay.mjs; aqua dials it through the relay and checks the echoes.
  c) aqua dials a peer without a reservation: the relay answers NO_RESERVATION, aqua fails cleanly.
  d) (with the plugin args) the relay_v2 transport plugin, loaded by the plugin loader with a node transport
     host: listen(<relay>/p2p-circuit) and echo to `peer.mjs dial`;
  e) the plugin dials `peer.mjs listen` through the relay.
  f) (with the server arg) an aqua relay server: `peer.mjs listen` reserves on it and aqua dials the js peer
     through it (issue #7 acceptance); the relay's stats show the reservation, the circuit and the bytes.
  g) aqua reserves on the aqua relay server and `peer.mjs dial` reaches it (js as the HOP CONNECT client),
     then 2 x 60000-byte frames against a 100000-byte data limit: the relay resets the circuit.
Each process runs with a bounded timeout; only the PIDs started here are killed.
"""
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

AQUA, JS_DIR = sys.argv[1], sys.argv[2]
PLUGIN_PEER, PLUGIN_DIR = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else (None, None)
SERVER_PEER = sys.argv[5] if len(sys.argv) > 5 else None
procs = []


def start(argv, cwd=None):
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    p.lines = queue.Queue()
    p.all = []

    def pump():
        for line in p.stdout:
            p.all.append(line.rstrip())
            try:
                p.lines.put(json.loads(line))
            except ValueError:
                pass
        p.lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    threading.Thread(target=lambda: p.stderr.read(), daemon=True).start()
    procs.append(p)
    return p


def wait_event(p, name, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            ev = p.lines.get(timeout=max(0.05, end - time.time()))
        except queue.Empty:
            break
        if ev is None:
            break
        if ev.get("event") == name:
            return ev
    raise AssertionError(f"no {name!r} event from {p.args[:3]}; output: {p.all[-10:]}")


def finish(p, timeout=20):
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError(f"{p.args[:3]} did not exit; output: {p.all[-10:]}")


def cleanup():
    for p in procs:
        if p.poll() is None:
            try:
                p.stdin.close()
            except OSError:
                pass
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()  # only processes this script started


def node(*args):
    return ["node", *args, "--timeout-ms", "40000"]


def relay():
    r = start(node("relay.mjs"), cwd=JS_DIR)
    return r, wait_event(r, "listening")["addr"]


def case_a():
    r, raddr = relay()
    aq = start([AQUA, "listen", "--relay", raddr, "--exit-after", "2", "--timeout-ms", "40000"])
    rsv = wait_event(aq, "reserved")
    circuit = rsv["addr"]
    assert circuit.startswith(raddr + "/p2p-circuit/p2p/"), circuit
    assert rsv["observed"].startswith("/ip4/127.0.0.1/tcp/"), rsv
    t0 = time.time()
    d = start(node("peer.mjs", "dial", "--addr", circuit, "--send-hex", "68656c6c6f", "--count", "3", "--ping"),
              cwd=JS_DIR)
    done = wait_event(d, "done")
    assert done["received"] == 3, done
    assert finish(d) == 0
    small_ms = int((time.time() - t0) * 1000)
    t0 = time.time()
    d = start(node("peer.mjs", "dial", "--addr", circuit, "--send-size", "300000", "--count", "2"), cwd=JS_DIR)
    done = wait_event(d, "done", timeout=30)
    assert done["received"] == 2, done
    assert finish(d) == 0
    big_ms = int((time.time() - t0) * 1000)
    assert finish(aq) == 0
    print(f"case a: js dial -> js relay -> aqua: ok (3 x 5 B + ping: {small_ms} ms incl. node start-up; "
          f"2 x 300000 B: {big_ms} ms)")


def js_messages(js, seconds=10):
    """The `message` events the js listener prints until it stops (or `seconds` pass)."""
    msgs = []
    end = time.time() + seconds
    while time.time() < end:
        ev = js.lines.get(timeout=seconds)
        if ev is None or ev.get("event") == "stopped":
            break
        if ev.get("event") == "message":
            msgs.append(ev)
    return msgs


def case_b():
    r, raddr = relay()
    js = start(node("peer.mjs", "listen", "--relay", raddr, "--exit-after", "1"), cwd=JS_DIR)
    circuit = wait_event(js, "reserved")["addr"]
    aq = start([AQUA, "dial", "--addr", circuit, "--send-hex", "616263", "--count", "5", "--timeout-ms", "20000"])
    done = wait_event(aq, "done", timeout=20)
    assert done["received"] == 5, done
    assert finish(aq) == 0
    msgs = js_messages(js)
    assert len(msgs) == 5 and all(m["data_hex"] == "616263" for m in msgs), msgs
    assert finish(js) == 0
    print(f"case b: aqua dial -> js relay -> js listen: ok (5 frames, {done['ms']} ms)")


def case_c():
    r, raddr = relay()
    ghost = "12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV"
    aq = start([AQUA, "dial", "--addr", f"{raddr}/p2p-circuit/p2p/{ghost}", "--send-hex", "00", "--timeout-ms", "10000"])
    rc = finish(aq)
    assert rc == 1, rc
    assert any("NO_RESERVATION" in l for l in aq.all), aq.all
    print("case c: dial without reservation: NO_RESERVATION, exit 1: ok")


def case_d():
    r, raddr = relay()
    aq = start([PLUGIN_PEER, PLUGIN_DIR, "listen", "--relay", raddr, "--exit-after", "1"])
    circuit = wait_event(aq, "reserved")["addr"]
    assert circuit.startswith(raddr + "/p2p-circuit/p2p/"), circuit
    d = start(node("peer.mjs", "dial", "--addr", circuit, "--send-hex", "7177", "--count", "4"), cwd=JS_DIR)
    done = wait_event(d, "done")
    assert done["received"] == 4, done
    assert finish(d) == 0
    assert finish(aq) == 0
    print("case d: js dial -> js relay -> relay_v2 plugin: ok (4 frames)")


def case_e():
    r, raddr = relay()
    js = start(node("peer.mjs", "listen", "--relay", raddr, "--exit-after", "1"), cwd=JS_DIR)
    circuit = wait_event(js, "reserved")["addr"]
    aq = start([PLUGIN_PEER, PLUGIN_DIR, "dial", "--addr", circuit, "--send-hex", "01020304", "--count", "3"])
    done = wait_event(aq, "done", timeout=20)
    assert done["received"] == 3 and circuit.endswith(done["peer"]), done
    assert finish(aq) == 0
    assert finish(js) == 0
    print("case e: relay_v2 plugin dial -> js relay -> js listen: ok (3 frames)")


def aqua_relay(*extra):
    r = start([SERVER_PEER, "--timeout-ms", "60000", *extra])
    return r, wait_event(r, "listening")["addr"]


def relay_stats(r):
    r.stdin.write("stats\n")
    r.stdin.flush()
    return wait_event(r, "stats")


def case_f():
    r, raddr = aqua_relay()
    js = start(node("peer.mjs", "listen", "--relay", raddr, "--exit-after", "1"), cwd=JS_DIR)
    rsv = wait_event(js, "reserved")
    circuit = rsv["addr"]
    assert circuit.startswith(raddr + "/p2p-circuit/p2p/"), rsv
    t0 = time.time()
    aq = start([AQUA, "dial", "--addr", circuit, "--send-hex", "616263", "--count", "5", "--timeout-ms", "20000"])
    done = wait_event(aq, "done", timeout=20)
    assert done["received"] == 5, done
    assert finish(aq) == 0
    ms = int((time.time() - t0) * 1000)
    msgs = js_messages(js)
    assert len(msgs) == 5 and all(m["data_hex"] == "616263" for m in msgs), msgs
    st = relay_stats(r)
    assert st["reservations_granted"] >= 1 and st["connects_granted"] == 1, st
    assert st["bytes_relayed"] > 1000 and st["hop_refused"] == 0 and st["stop_failed"] == 0, st
    assert finish(js) == 0
    print(f"case f: aqua dial -> aqua relay -> js listen: ok (5 frames, {ms} ms incl. start-up; "
          f"{st['bytes_relayed']} bytes relayed)")


def case_g():
    r, raddr = aqua_relay("--limit-data", "100000")
    aq = start([AQUA, "listen", "--relay", raddr, "--exit-after", "2", "--timeout-ms", "40000"])
    rsv = wait_event(aq, "reserved")
    circuit = rsv["addr"]
    assert rsv["observed"].startswith("/ip4/127.0.0.1/tcp/"), rsv
    d = start(node("peer.mjs", "dial", "--addr", circuit, "--send-hex", "68656c6c6f", "--count", "3", "--ping"),
              cwd=JS_DIR)
    done = wait_event(d, "done")
    assert done["received"] == 3, done
    assert finish(d) == 0
    d = start(node("peer.mjs", "dial", "--addr", circuit, "--send-size", "60000", "--count", "2"), cwd=JS_DIR)
    rc = finish(d, timeout=40)
    assert rc != 0, "2 x 60000 B crossed a 100000-byte data limit"
    st = relay_stats(r)
    assert st["data_limited"] == 1 and st["circuits"] == 0 and st["connects_granted"] >= 2, st  # js may redial after the reset
    print(f"case g: js dial -> aqua relay -> aqua listen: ok (3 frames + ping; data limit reset the circuit: {st})")


def main():
    if shutil.which("node") is None or not os.path.isdir(os.path.join(JS_DIR, "node_modules")):
        print("SKIP: node or tests/interop/js/node_modules missing (run npm ci there)")
        return 77
    failed = 0
    cases = (case_a, case_b, case_c) + ((case_d, case_e) if PLUGIN_PEER else ()) + ((case_f, case_g) if SERVER_PEER else ())
    if os.environ.get("RELAY_INTEROP_CASES"):  # e.g. "f,g" while working on one side
        cases = tuple(c for c in cases if c.__name__[-1] in os.environ["RELAY_INTEROP_CASES"].split(","))
    for case in cases:
        try:
            case()
        except AssertionError as e:
            failed += 1
            print(f"{case.__name__}: FAIL: {e}")
        finally:
            cleanup()
            procs.clear()
    print(f"relay interop: {len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
