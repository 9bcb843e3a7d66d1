"""Helpers shared by the tests that run `aqua serve` daemons: a free loopback
port, the CLI against a data dir, and a started daemon. The test's main sets
AQUA (the aqua binary) before using them."""
import json
import socket
import subprocess

AQUA = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aqua(d, *args, check=0, stdin=None):
    """`aqua --dir d args...`: its stdout; asserts the exit code."""
    p = subprocess.run([AQUA, "--dir", d, *args], capture_output=True, text=True, timeout=120, input=stdin)
    assert p.returncode == check, f"{args}: rc={p.returncode} out={p.stdout} err={p.stderr}"
    return p.stdout


def serve(d, stderr=subprocess.PIPE, config=None):
    """`aqua --dir d serve --json [--config config]`, once it reports serving: (process, its "serving" event)."""
    extra = ["--config", config] if config else []
    p = subprocess.Popen([AQUA, "--dir", d, "serve", "--json", *extra], stdout=subprocess.PIPE, stderr=stderr,
                         text=True)
    line = p.stdout.readline()
    ev = json.loads(line) if line else {}
    if ev.get("event") != "serving":
        err = p.stderr.read() if p.poll() is not None and p.stderr else ""
        raise AssertionError(f"serve did not start: {line} {err}")
    return p, ev
