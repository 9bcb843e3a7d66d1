#!/usr/bin/env python3
"""The demo's reviewer agent, in Python: the writer asks it to review the
report (`report.review`); it checks the report deterministically (sections,
words, headlines, makers) and replies with a verdict.

    python3 examples/python_agent/reviewer.py --socket /tmp/aqua-demo-split/b/control.sock

It takes part through the control API of the daemon whose identity it speaks
for (configs/demo-split-b.yaml: the daemon named "reviewer").
"""

import argparse
import re
import sys
import time

from aqua_agent import Agent, Control

REQUIRED = ("## Summary", "## Prices by maker", "## Headlines", "## Sources")


def review(report, _msg):
    missing = [s for s in REQUIRED if s not in report]
    words = len(report.split())
    headlines = len(re.findall(r"^- \d{4}-\d\d-\d\d \|", report, re.M))
    makers = max(0, len(re.findall(r"^\| (?!maker|-)", report, re.M)))
    if missing:
        return "review.verdict", f"changes requested: missing {', '.join(missing)}"
    return "review.verdict", (f"approved by the Python reviewer: {len(REQUIRED)}/{len(REQUIRED)} sections, "
                              f"{words} words, {headlines} headlines, {makers} makers")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", required=True, help="the daemon's control socket (<data dir>/control.sock)")
    ap.add_argument("--max-requests", type=int, default=0, help="exit after serving this many (0: run until killed)")
    ap.add_argument("--run-for", type=float, default=0, help="exit after this many seconds (0: no limit)")
    ap.add_argument("--connect-timeout", type=float, default=30, help="wait this long for the socket to appear")
    a = ap.parse_args()
    end = time.time() + a.connect_timeout
    while True:
        try:
            control = Control(a.socket)
            break
        except OSError:
            if time.time() > end:
                sys.exit(f"reviewer: cannot connect to {a.socket}")
            time.sleep(0.1)
    agent = Agent(control, "reviewer", {"report.review": review}, log=lambda s: print(s, flush=True))
    print(f"reviewer: serving as {agent.me} through {a.socket}", flush=True)
    served = agent.run(max_requests=a.max_requests, run_for_s=a.run_for)
    print(f"reviewer: served {served} request(s)", flush=True)


if __name__ == "__main__":
    main()
