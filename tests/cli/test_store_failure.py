#!/usr/bin/env python3
"""A receiving daemon whose disk fills up (docs/storage.md, "When a write fails"):
  * bob's data dir is on a small tmpfs, mounted in a private mount namespace
    (nothing outside this test sees it), nearly filled by a ballast file;
  * alice sends messages bob cannot store: bob acknowledges none of them, and
    `aqua serve` exits 1 with the store error instead of running on;
  * the operator makes room and restarts bob: every message alice sent is
    delivered exactly once and alice sees every one acknowledged;
  * the same with `aqua inbox watch` running bob's node without a daemon;
  * the same for an agent's store: a daemon (carol) hosting an agent whose
    store fills up exits 1 naming the agent, and after a restart the agent
    has every message alice sent it;
  * on a read-only data dir, the reading commands name the reason.
Needs root and unshare (re-runs itself in a new mount namespace); else exit 77.
Usage: test_store_failure.py <aqua>"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import daemons
from daemons import aqua, free_port

N = 40
SIZE = 30 * 1024


def serve(d, log, config=None):
    """A daemon logging to the file `log` (a pipe nobody reads could fill up and stall it)."""
    return daemons.serve(d, stderr=open(log, "a"), config=config)[0]


def fill(fs):
    """Leaves about 400 KiB free on the tmpfs `fs`: less than the N x 30 KiB coming."""
    st = os.statvfs(fs)
    free = st.f_bavail * st.f_frsize
    with open(os.path.join(fs, "ballast"), "wb") as f:
        f.write(b"\0" * max(0, free - 400 * 1024))


def wait_for(cond, what, limit=90):
    end = time.time() + limit
    while time.time() < end:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def outbox_states(a):
    return [m["state"] for m in json.loads(aqua(a, "outbox", "list", "--json"))["messages"]]


def agent_phase(tmp, a, sent_before, procs):
    """carol hosts the demo's `data` agent, whose own store is on a small tmpfs;
    alice sends the agent messages it cannot store. carol's daemons go into `procs`."""
    c = os.path.join(tmp, "carol")
    directory = os.path.join(tmp, "directory")
    aqua(c, "init")
    fs = os.path.join(c, "agents")  # every agent's data dir (docs/agents.md)
    os.mkdir(fs, 0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", fs], check=True)
    csv = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins", "demo_data", "ev_prices.csv")
    config = os.path.join(tmp, "carol.yaml")
    with open(config, "w") as f:
        f.write(f"""node: {{name: carol, data_dir: {c}, log_level: warn}}
components: {{}}
transports:
  - plugin: loopback
    listen: [/memory/carol-store-failure]
agent_directory: {{path: {directory}}}
agents:
  - plugin: data
    name: data
    listen: [/ip4/127.0.0.1/tcp/{free_port()}]
    settings: {{csv: {os.path.abspath(csv)}}}
""")
    log = os.path.join(tmp, "carol.log")
    carol = serve(c, log, config)
    procs.append(carol)
    card = os.path.join(directory, "data.card")
    wait_for(lambda: os.path.exists(card), "the data agent's card in the directory", 30)
    aqua(a, "contacts", "add", card, "--alias", "data")
    aqua(a, "send", "data", "before the agent's disk fills", "--wait")
    fill(fs)
    for i in range(N):
        aqua(a, "send", "data", "-", stdin=f"for the agent {i:03d} " + "z" * SIZE)
    try:
        carol.wait(timeout=90)
    except subprocess.TimeoutExpired:
        raise AssertionError("carol's daemon kept running with an agent whose store cannot write")
    last = json.loads(carol.stdout.read().strip().splitlines()[-1])
    assert carol.returncode == 1, f"carol exited {carol.returncode}: {open(log).read()[-2000:]}"
    msg = last["error"]["message"]
    assert "agent 'data'" in msg and "No space left on device" in msg, last
    print("carol stopped:", msg[:300])
    os.remove(os.path.join(fs, "ballast"))
    procs[-1] = serve(c, log, config)
    total = sent_before + N + 1
    wait_for(lambda: outbox_states(a).count("delivered") == total, "alice to see the agent's messages acknowledged")
    print(f"carol's agent stopped her daemon on its full disk; after the restart all {N + 1} messages are acked")


def main():
    tmp = tempfile.mkdtemp(prefix="aqua-storefail-")
    procs = []
    try:
        a, fs = os.path.join(tmp, "alice"), os.path.join(tmp, "bobfs")
        b = os.path.join(fs, "bob")
        os.mkdir(fs)
        subprocess.run(["mount", "--make-rprivate", "/"], check=False)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", fs], check=True)
        pa, pb = free_port(), free_port()
        aqua(a, "init", "--listen", f"/ip4/127.0.0.1/tcp/{pa}")
        aqua(b, "init", "--listen", f"/ip4/127.0.0.1/tcp/{pb}")
        alice_log, bob_log = os.path.join(tmp, "alice.log"), os.path.join(tmp, "bob.log")  # not on bob's tmpfs
        procs += [serve(a, alice_log), serve(b, bob_log)]
        aqua(b, "contacts", "add", "-", "--alias", "alice", stdin=aqua(a, "card", "export"))
        aqua(a, "contacts", "add", "-", "--alias", "bob", stdin=aqua(b, "card", "export"))
        aqua(a, "send", "bob", "before the disk fills", "--wait")

        fill(fs)
        bodies = [(f"message {i:03d} " + "x" * SIZE) for i in range(N)]
        for body in bodies:
            aqua(a, "send", "bob", "-", stdin=body)  # alice's own disk is fine: each is queued durably

        bob = procs[1]
        try:
            bob.wait(timeout=90)
        except subprocess.TimeoutExpired:
            raise AssertionError("bob's daemon kept running with a store that cannot write")
        out, err = bob.stdout.read(), open(bob_log).read()
        assert bob.returncode == 1, f"bob exited {bob.returncode}: {err[-2000:]}"
        last = json.loads(out.strip().splitlines()[-1])  # serve --json reports its error on stdout
        assert last["error"]["code"] == "io_error", last
        assert "store failed" in last["error"]["message"] and "No space left on device" in last["error"]["message"], last
        assert "cannot store message" in err, err[-2000:]  # and the messages it could not store were never acked
        print("bob stopped:", last["error"]["message"][:300])
        states = outbox_states(a)
        assert "delivered" in states and states.count("delivered") < N + 1, states  # not everything got through

        os.remove(os.path.join(fs, "ballast"))  # the operator makes room and restarts bob
        procs[1] = serve(b, bob_log)
        wait_for(lambda: outbox_states(a).count("delivered") == N + 1, "alice to see all messages acknowledged")
        msgs = json.loads(aqua(b, "inbox", "list", "--json"))["messages"]
        texts = [m.get("text", "") for m in msgs]
        assert len(texts) == N + 1, f"{len(texts)} messages in bob's inbox, {N + 1} sent"
        assert sorted(texts) == sorted(["before the disk fills", *bodies]), "a message is missing or duplicated"
        print(f"all {N + 1} messages delivered exactly once after the restart")

        # The same without a daemon: `aqua inbox watch` runs bob's node itself and stops the same way.
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(timeout=60) == 0
        # Opening the store turns its log into a table and deletes the log, which frees room: done here (store
        # check opens it), before the disk is filled, so the watch's own open cannot make room for what comes (a
        # watch writes only what arrives: it marks nothing read).
        aqua(b, "store", "check")
        fill(fs)
        watch_out = os.path.join(tmp, "watch.ndjson")  # a file: 30 KiB lines would fill a pipe nobody reads yet
        watch = subprocess.Popen([daemons.AQUA, "--dir", b, "inbox", "watch", "--json"], stdout=open(watch_out, "w"),
                                 stderr=open(bob_log, "a"), text=True)
        procs[1] = watch
        more = [(f"later {i:03d} " + "y" * SIZE) for i in range(N)]
        for body in more:
            aqua(a, "send", "bob", "-", stdin=body)
        try:
            watch.wait(timeout=90)
        except subprocess.TimeoutExpired:
            raise AssertionError("the watch kept its node running with a store that cannot write")
        lines = open(watch_out).read().strip().splitlines()
        assert watch.returncode == 1, f"watch exited {watch.returncode}"
        last = json.loads(lines[-1])
        assert "the watch stopped" in last["error"]["message"] and "No space left" in last["error"]["message"], last
        os.remove(os.path.join(fs, "ballast"))
        procs[1] = serve(b, bob_log)
        total = 2 * N + 1
        wait_for(lambda: outbox_states(a).count("delivered") == total, "alice to see the later messages acknowledged")
        texts = [m.get("text", "") for m in json.loads(aqua(b, "inbox", "list", "--json"))["messages"]]
        assert sorted(texts) == sorted(["before the disk fills", *bodies, *more]), "a later message is missing or twice"
        print(f"the watch stopped on the full disk; all {total} messages delivered exactly once")
        agent_phase(tmp, a, total, procs)
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
            assert p.returncode == 0, f"exit code {p.returncode}"
        # A data dir on a read-only filesystem: the reading commands say why they cannot open the store (they said
        # "cannot chmod 0700 store dir" with no reason, for a store dir that was 0700 already).
        subprocess.run(["mount", "--bind", b, b], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", b, b], check=True)
        try:
            p = subprocess.run([daemons.AQUA, "--dir", b, "inbox", "list"], capture_output=True, text=True, timeout=60)
            assert p.returncode == 1 and "Read-only file system" in p.stderr, (p.returncode, p.stderr)
            print("read-only data dir:", p.stderr.strip()[:200])
        finally:
            subprocess.run(["umount", b], check=False, capture_output=True)
    finally:
        for p in procs:  # only the daemons this test started, by PID
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
        for fs in (os.path.join(tmp, "bobfs"), os.path.join(tmp, "carol", "agents")):
            subprocess.run(["umount", fs], check=False, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if os.environ.get("AQUA_TEST_IN_NS") != "1":
        if os.geteuid() != 0 or not shutil.which("unshare"):
            print("skipped: needs root and unshare")
            sys.exit(77)
        os.execvp("unshare", ["unshare", "-m", "env", "AQUA_TEST_IN_NS=1", sys.executable, *sys.argv])
    daemons.AQUA = sys.argv[1]
    main()
    print("ok")
