#!/usr/bin/env python3
"""Crash test: real sender and receiver processes on 127.0.0.1 over the zmq
transport; each is killed with SIGKILL at random moments (bounded), and
restarted. Afterwards every message is in the receiver's inbox exactly once
and the sender's outbox has drained.

Usage: crash_test.py <aqua binary> <crash_sender binary> [N=10000] [kills=6]
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from daemons import free_port  # noqa: E402  (the global random, not the seeded rng: kills stay as seeded)

AQUA, SENDER = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
KILLS = int(sys.argv[4]) if len(sys.argv) > 4 else 6
DEADLINE = time.time() + float(os.environ.get("AQUA_CRASH_SECONDS", "240"))
rng = random.Random(int(os.environ.get("AQUA_CRASH_SEED", "7")))
started = []  # every process we start, so we only ever kill our own


def aqua(d, *args, check=True):
    p = subprocess.run([AQUA, "--dir", d, *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise SystemExit(f"aqua {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p.stdout


# components.mailbox.send_window for both nodes (unset: the default).
SEND_WINDOW = os.environ.get("AQUA_CRASH_SEND_WINDOW")


def write_config(d, name, port, peer_id, peer_port):
    window = f"\n  mailbox: {{send_window: {int(SEND_WINDOW)}}}" if SEND_WINDOW else ""
    with open(os.path.join(d, "config.yaml"), "w") as f:
        f.write(f"""node: {{name: {name}, log_level: error}}
components:
  routing:
    routes: [{{peer: {peer_id}, address: /ip4/127.0.0.1/tcp/{peer_port}}}]{window}
transports:
  - plugin: zmq
    listen: [/ip4/127.0.0.1/tcp/{port}]
""")


def spawn(cmd, log):
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    started.append(p)
    return p


def main():
    tmp = tempfile.mkdtemp(prefix="aqua-crash-")
    a, b = os.path.join(tmp, "alice"), os.path.join(tmp, "bob")
    try:
        ida = json.loads(aqua(a, "init", "--json"))["peer_id"]
        idb = json.loads(aqua(b, "init", "--json"))["peer_id"]
        pa, pb = free_port(), free_port()
        write_config(a, "alice", pa, idb, pb)
        write_config(b, "bob", pb, ida, pa)
        ca = aqua(a, "card", "export", "--address", f"/ip4/127.0.0.1/tcp/{pa}").strip()
        cb = aqua(b, "card", "export", "--address", f"/ip4/127.0.0.1/tcp/{pb}").strip()
        aqua(a, "contacts", "add", cb, "--alias", "bob")
        aqua(b, "contacts", "add", ca, "--alias", "alice")
        log = open(os.path.join(tmp, "processes.log"), "w")
        recv_cmd = [AQUA, "--dir", b, "serve"]
        send_cmd = [SENDER, os.path.join(a, "config.yaml"), idb, str(N)]
        receiver = spawn(recv_cmd, log)
        sender = spawn(send_cmd, log)
        kills = 0
        while kills < KILLS and time.time() < DEADLINE:
            time.sleep(rng.uniform(0.05, 0.35))
            if sender.poll() is not None:
                break
            victim = "sender" if kills % 2 == 0 else "receiver"
            proc = sender if victim == "sender" else receiver
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            kills += 1
            print(f"kill {kills}: SIGKILL {victim} (pid {proc.pid})", flush=True)
            time.sleep(rng.uniform(0.0, 0.2))
            if victim == "sender":
                sender = spawn(send_cmd, log)
            else:
                receiver = spawn(recv_cmd, log)
        # Let the sender finish: every message queued and acknowledged.
        while sender.poll() is None and time.time() < DEADLINE:
            time.sleep(0.2)
        if sender.poll() is None:
            raise SystemExit("sender did not drain its outbox before the deadline")
        if sender.returncode != 0:
            raise SystemExit(f"sender exited with {sender.returncode}; see {log.name}")
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(timeout=30)
        inbox = json.loads(aqua(b, "inbox", "list", "--json"))["messages"]
        texts = [m.get("text") for m in inbox]
        ids = [m["message_id"] for m in inbox]
        expected = {f"message {k}" for k in range(N)}
        dup = len(texts) - len(set(texts))
        missing = expected - set(texts)
        outbox = json.loads(aqua(a, "outbox", "list", "--json"))["messages"]
        undelivered = [m for m in outbox if m["state"] != "delivered"]
        print(f"{kills} kills; inbox {len(inbox)} messages, {dup} duplicates, {len(missing)} missing; "
              f"outbox {len(outbox)} records, {len(undelivered)} not delivered")
        ok = dup == 0 and not missing and len(ids) == len(set(ids)) == N and not undelivered and len(outbox) == N
        ok = ok and all(m["sender"] == ida for m in inbox)
        if kills < min(KILLS, 4):
            print("too few kills happened: the sender finished too fast for the test to mean anything")
            ok = False
        print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
        return 0 if ok else 1
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.environ.get("AQUA_CRASH_KEEP"):
            print("kept", tmp)
        else:
            subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
