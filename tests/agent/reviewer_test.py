#!/usr/bin/env python3
"""The Python reviewer agent on a real daemon (b), sent malformed agent frames
by a contact (friend) and a well-formed request by a peer b does not know
(stranger): it skips the malformed frames and refuses the stranger, logging
each to stderr, and still answers the friend's request; nothing goes to the
stranger. When b restarts, the reviewer reconnects and answers the next request.

usage: reviewer_test.py <aqua binary> <source dir>"""

import json
import os
import subprocess
import sys
import tempfile
import time

AQUA, SRC = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(SRC, "tests", "cli"))
sys.path.insert(0, os.path.join(SRC, "examples", "python_agent"))
import daemons  # noqa: E402
from aqua_agent import AGENT_TOPIC, Control  # noqa: E402

daemons.AQUA = AQUA

MALFORMED = [
    "not json",
    "[1, 2]",
    json.dumps({"aqua_agent": 1, "kind": "request", "type": "report.review", "body": "x"}),  # no corr
    json.dumps({"aqua_agent": 1, "kind": "request", "corr": ["c"], "type": "report.review", "body": "x"}),
    json.dumps({"aqua_agent": 1, "kind": "request", "corr": "c5", "type": "report.review", "deadline_ms": "soon",
                "body": "x"}),
    json.dumps({"aqua_agent": 1, "kind": "request", "corr": "c6", "type": "report.review", "body": 5}),
]


def request(corr):
    return json.dumps({"aqua_agent": 1, "kind": "request", "corr": corr, "type": "report.review", "from": "writer",
                       "deadline_ms": 0, "body": "## Summary\n## Prices by maker\n## Headlines\n## Sources\n"})


def agent_frames(control):
    """The agent frames in `control`'s daemon inbox (every message is text JSON here)."""
    msgs = control.call("inbox.list")["messages"]
    return [json.loads(m["text"]) for m in msgs if m.get("topic") == AGENT_TOPIC]


def main():
    procs = []
    with tempfile.TemporaryDirectory(prefix="aqua-reviewer-") as tmp:
        try:
            dirs, ids, ports, cards, ctl = {}, {}, {}, {}, {}
            for name in ("b", "friend", "stranger"):
                d = dirs[name] = os.path.join(tmp, name)
                ports[name] = daemons.free_port()
                ids[name] = json.loads(daemons.aqua(d, "init", "--json", "--listen",
                                                    f"/ip4/127.0.0.1/tcp/{ports[name]}"))["peer_id"]
            # b can reach the stranger (its acks must get there, or the stranger's send never completes) but has no
            # card of it: the stranger's messages are stored quarantined, trust unknown.
            cfg = daemons.text(os.path.join(dirs["b"], "config.yaml"))
            assert "routes: []" in cfg, cfg
            with open(os.path.join(dirs["b"], "config.yaml"), "w") as f:
                f.write(cfg.replace("routes: []", f"routes: [{{peer: {ids['stranger']}, "
                                                  f"address: /ip4/127.0.0.1/tcp/{ports['stranger']}}}]"))
            for name in ("b", "friend", "stranger"):
                d = dirs[name]
                p, ev = daemons.serve(d, stderr=subprocess.DEVNULL)
                procs.append(p)
                cards[name] = ev["card"]
                ctl[name] = Control(os.path.join(d, "control.sock"))
            ctl["b"].call("contacts.add", card=cards["friend"], alias="friend")
            ctl["friend"].call("contacts.add", card=cards["b"], alias="b")
            ctl["stranger"].call("contacts.add", card=cards["b"], alias="b")  # b does not know the stranger

            reviewer = subprocess.Popen([sys.executable, os.path.join(SRC, "examples/python_agent/reviewer.py"),
                                         "--socket", os.path.join(dirs["b"], "control.sock"), "--run-for", "120"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(reviewer)
            assert "serving as" in reviewer.stdout.readline()
            for text in MALFORMED:
                ctl["friend"].call("send", to="b", text=text, topic=AGENT_TOPIC, wait=True)
            ctl["stranger"].call("send", to="b", text=request("from-stranger"), topic=AGENT_TOPIC, wait=True)
            ctl["friend"].call("send", to="b", text=request("from-friend"), topic=AGENT_TOPIC, wait=True)

            # The reviewer takes b's messages in order: once the friend's reply is in, it has seen all the others.
            deadline, frames = time.time() + 60, []
            while time.time() < deadline and not frames and reviewer.poll() is None:
                frames = agent_frames(ctl["friend"])
                time.sleep(0.1)
            assert [(f["kind"], f["corr"], f["type"]) for f in frames] == [("reply", "from-friend", "review.verdict")], \
                frames
            # b restarts (SIGTERM, then serve again): the reviewer waits for it, reconnects and serves on.
            ctl["b"].close()
            procs[0].terminate()
            procs[0].wait(timeout=60)
            time.sleep(1.5)  # the reviewer notices meanwhile
            p, _ = daemons.serve(dirs["b"], stderr=subprocess.DEVNULL)
            procs.append(p)
            ctl["b"] = Control(os.path.join(dirs["b"], "control.sock"))
            ctl["friend"].call("send", to="b", text=request("after-restart"), topic=AGENT_TOPIC, wait=True,
                               timeout_ms=60000)
            deadline = time.time() + 60
            while time.time() < deadline and len(frames) < 2 and reviewer.poll() is None:
                frames = agent_frames(ctl["friend"])
                time.sleep(0.1)
            alive = reviewer.poll() is None
            reviewer.terminate()
            out, err = reviewer.communicate(timeout=30)
            assert alive, f"the reviewer died: rc={reviewer.returncode}\n{err}"
            assert [(f["kind"], f["corr"], f["type"]) for f in frames] == [
                ("reply", "from-friend", "review.verdict"), ("reply", "after-restart", "review.verdict")], (frames, err)
            assert frames[0]["body"].startswith("approved by the Python reviewer"), frames[0]
            assert "reconnected to the daemon" in err, err
            # b sent exactly the replies to the friend: nothing to the stranger, nothing for bad frames.
            sent = ctl["b"].call("outbox.list")["messages"]
            assert [m["recipient"] for m in sent] == [ids["friend"]] * 2, sent
            assert agent_frames(ctl["stranger"]) == []
            skipped = [line for line in err.splitlines() if "skipped malformed agent frame" in line]
            assert len(skipped) == len(MALFORMED), err
            refused = [line for line in err.splitlines() if "refused message" in line]
            assert len(refused) == 1 and ids["stranger"] in refused[0] and "not a contact" in refused[0], err
            assert "report.review from writer" in out, out
            print("reviewer: skipped", len(skipped), "malformed frames, refused the stranger, answered the friend")
        finally:
            for p in procs:  # only what this test started, by PID
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait(timeout=30)


if __name__ == "__main__":
    main()
