"""Helpers shared by the tests that run `aqua serve` daemons: a free loopback
port, the CLI against a data dir, and a started daemon. The test's main sets
AQUA (the aqua binary) before using them."""
import json
import os
import random
import resource
import signal
import socket
import subprocess
import time
import unittest

AQUA = None


def free_port():
    """A loopback TCP port free now, for an address a daemon binds later. Below the kernel's ephemeral range
    (ip_local_port_range, 32768 up here): a port the kernel handed out as free (bind to 0) is also what it hands
    the next outgoing connection, so a daemon started a moment later found it taken (address_in_use)."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 20000-31999")


def aqua(d, *args, check=0, stdin=None):
    """`aqua --dir d args...`: its stdout; asserts the exit code."""
    p = subprocess.run([AQUA, "--dir", d, *args], capture_output=True, text=True, timeout=120, input=stdin)
    assert p.returncode == check, f"{args}: rc={p.returncode} out={p.stdout} err={p.stderr}"
    return p.stdout


def aqua_stderr(d, *args, check):
    """`aqua --dir d args...` that must exit with `check`: its stderr."""
    p = subprocess.run([AQUA, "--dir", d, *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == check, f"{args}: rc={p.returncode} out={p.stdout} err={p.stderr}"
    return p.stderr


def signalled(args, after_s, sig, env=None):
    """Runs `args`, sends it `sig` after `after_s` seconds: (exit code, stdout, stderr). Killed by PID if it hangs."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(after_s)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


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


def use_relay(d, relay_addr):
    """Replaces the config's transports with relay_v2 reserving on `relay_addr`."""
    path = os.path.join(d, "config.yaml")
    cfg = text(path)
    cfg = cfg[:cfg.index("transports:")] + (
        "transports:\n  - plugin: relay_v2\n    listen: [/p2p-circuit]\n"
        f"    settings:\n      relays: {relay_addr}\n")
    with open(path, "w") as f:
        f.write(cfg)


def text(path):
    with open(path) as f:
        return f.read()


def cpu_seconds(pid):
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def allow_open_files(n):
    """Raises this process's open-file limit to its hard limit; False if that is below `n` (skip the test)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return True


def flood(port, count, sources):
    """`count` silent TCP connections to 127.0.0.1:`port`, from the addresses `sources` in turn: the sockets that
    connected (a listen backlog may overflow for a moment during a flood)."""
    socks = []
    for i in range(count):
        s = socket.socket()
        s.bind((sources[i % len(sources)], 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        socks.append(s)
    return socks


class Processes(unittest.TestCase):
    """A test that starts aqua processes (each with stderr in a log file) and opens sockets: tearDown kills only
    its own processes, by PID, and closes the sockets."""

    def setUp(self):
        self.procs, self.socks = [], []

    def tearDown(self):
        for s in self.socks:
            s.close()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
            p.stdout.close()

    def start(self, d, log, *args, fd_limit=None):
        """`aqua --dir d args... --json`, with an open-file limit (soft and hard, so the process cannot raise it)
        if given, once it reports serving: (process, its "serving" event)."""
        def lower():
            if fd_limit:
                resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))
        p = subprocess.Popen([AQUA, "--dir", d, *args, "--json"], stdout=subprocess.PIPE, stderr=log, text=True,
                             preexec_fn=lower)
        self.procs.append(p)
        ev = json.loads(p.stdout.readline() or "{}")  # bounded: the process exits on a start failure
        self.assertEqual(ev.get("event"), "serving", text(log.name))
        return p, ev

    def wait_for(self, what, fn, timeout_s=60):
        """fn() until it returns something true (returned), polled every 0.2 s for at most timeout_s."""
        deadline, value = time.time() + timeout_s, None
        while time.time() < deadline:
            value = fn()
            if value:
                return value
            time.sleep(0.2)
        self.fail(f"{what}: not within {timeout_s} s (last: {value})")

    def stop_all(self, *procs):
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
            self.assertEqual(p.returncode, 0)


def card_state(d):
    """What `aqua status` says about the node's card on each relay ("published", "not published: why", ...)."""
    st = json.loads(aqua(d, "status", "--json"))
    return [v for t in st["transports"] for k, v in t["details"] if k.startswith("relay ") and k.endswith(" card")]
