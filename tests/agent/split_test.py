#!/usr/bin/env python3
"""The split demo with real processes: daemon b (news, data; identity
"reviewer"), the Python reviewer agent on b's control socket, daemon a
(orchestrator, research, writer) over zmq on 127.0.0.1. The report must be
the expected one (the same as in one daemon) and reviewed by Python.

usage: split_test.py <aqua binary> <source dir>"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

AQUA, SRC = sys.argv[1], sys.argv[2]


def config(name, tmp):
    text = open(os.path.join(SRC, "configs", name)).read()
    text = text.replace("/tmp/aqua-demo-split", tmp).replace("../plugins/demo_data", os.path.join(SRC, "plugins/demo_data"))
    text = text.replace("/memory/aqua-demo", f"/memory/aqua-splittest-{os.getpid()}")
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def serve(cfg, key_dir):
    os.makedirs(key_dir, mode=0o700, exist_ok=True)
    subprocess.run([AQUA, "--dir", key_dir, "init"], check=True, capture_output=True)
    p = subprocess.Popen([AQUA, "serve", "--config", cfg, "--json"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert '"serving"' in line, line
    return p


def main():
    with tempfile.TemporaryDirectory(prefix="aqua-split-") as tmp:
        b = serve(config("demo-split-b.yaml", tmp), os.path.join(tmp, "b"))
        reviewer = subprocess.Popen([sys.executable, os.path.join(SRC, "examples/python_agent/reviewer.py"),
                                     "--socket", os.path.join(tmp, "b", "control.sock"), "--max-requests", "1",
                                     "--run-for", "90"], stdout=subprocess.PIPE, text=True)
        assert "serving as" in reviewer.stdout.readline()
        a = serve(config("demo-split-a.yaml", tmp), os.path.join(tmp, "a"))
        report = os.path.join(tmp, "report.md")
        events = []
        deadline = time.time() + 60
        while time.time() < deadline:  # a's agent events, until the orchestrator notes it is done
            line = a.stdout.readline()
            if not line:
                break
            ev = json.loads(line)
            events.append(ev)
            if ev.get("kind") == "note" and ev.get("text", "").startswith("workflow.done"):
                break
        rc = reviewer.wait(timeout=30)
        review_log = reviewer.stdout.read()
        for p in (a, b):
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(timeout=30) for p in (a, b)]
        expected = open(os.path.join(SRC, "tests/data/agent_demo_report.md")).read()
        got = open(report).read()
        assert got == expected, "split report differs from the expected report"
        verdict = open(report + ".review.txt").read()
        assert verdict.startswith("approved by the Python reviewer: 4/4 sections"), verdict
        replies = {(e["to"], e["from"], e["transport"]) for e in events if e.get("kind") == "reply"}
        for want in (("research", "news", "zmq"), ("research", "data", "zmq"), ("writer", "reviewer", "zmq"),
                     ("orchestrator", "research", "loopback"), ("orchestrator", "writer", "loopback")):
            assert want in replies, (want, replies)
        assert rc == 0 and "report.review from writer" in review_log, review_log
        assert codes == [0, 0], codes
        print("split demo: same report, reviewed by Python:", verdict.strip())


if __name__ == "__main__":
    main()
