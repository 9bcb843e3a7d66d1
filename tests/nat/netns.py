#!/usr/bin/env python3
"""A NAT topology in Linux network namespaces, for aqua's NAT tests (python3 standard library only).

                       203.0.113.0/24 ("the internet": a bridge in the relay namespace)
          relay  203.0.113.1  (bridge `pub`; no forwarding: the relay is a host, not a router)
           |                      |
    nat_a  wan 203.0.113.2   nat_b  wan 203.0.113.3    routers: ip_forward=1, nftables masquerade on `wan`, and
           lan 10.1.0.1             lan 10.2.0.1       a NAT's stateful firewall: from `wan` only replies
           |                        |                  (ct established,related) are forwarded; default route
           |                        |                  via 203.0.113.1, no route to the other LAN
           |                        |
    alice  eth0 10.1.0.2     bob    eth0 10.2.0.2      hosts: default route via their router

Every namespace, interface and address lives inside namespaces this module creates: the host's own interfaces,
routes and firewall are never touched (veth pairs are created inside a namespace and moved to another one, never in
the root namespace). Namespace names are `<prefix>-<pid>-<role>`, so concurrent runs never collide and a stale
namespace is recognised by its dead owner pid (`sweep_stale`).

Impairments (each idempotent):
  set_loss(router, percent)   nft rule `numgen random mod 100 < percent drop` in the router's `loss` chain
                              (hook forward, before the firewall: both directions of everything it forwards)
  clear_loss(router)
  hold_outbound(router)       drops everything the LAN host sends (until clear_loss)
  rst_sent(router)            TCP RSTs the router itself sent (nft counter in its output chain)
  cut(router)                 `ip link set wan down` on the router: the router loses its public link (Linux
                              masquerade then forgets the mappings through `wan`: its conntrack entries go)
  restore(router)             `ip link set wan up` and re-adds the default route (Linux deletes routes through an
                              interface that goes down and does not bring them back when it comes up)

Processes started with `Topology.popen` are recorded by PID, get PR_SET_PDEATHSIG=SIGKILL (they die with the test
process even if it is SIGKILLed) and are killed by PID in `down()`, before the namespaces are deleted.
"""
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time

PREFIX = "aqua-nat"
RELAY_IP = "203.0.113.1"
PUBLIC_NET = 24
ROUTERS = {
    # router: (public address, lan gateway, host namespace, host address)
    "nat_a": ("203.0.113.2", "10.1.0.1", "alice", "10.1.0.2"),
    "nat_b": ("203.0.113.3", "10.2.0.1", "bob", "10.2.0.2"),
}
ROLES = ("relay", "nat_a", "nat_b", "alice", "bob")
NFT_TABLE = "aquanat"


class NetnsError(RuntimeError):
    pass


def run(argv, check=True, timeout=20, input=None):
    """Runs a command (bounded); raises NetnsError with its output when it fails and check is set."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        raise NetnsError(f"timed out after {timeout}s: {' '.join(argv)}")
    if check and p.returncode != 0:
        raise NetnsError(f"failed (rc={p.returncode}): {' '.join(argv)}\n{p.stdout}{p.stderr}")
    return p


def available():
    """(True, '') when this process may create namespaces; else (False, why)."""
    if os.geteuid() != 0:
        return False, "needs root (network namespaces)"
    for tool in ("ip", "nft"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(":") + [
                "/usr/sbin", "/sbin"]):
            return False, f"'{tool}' not found"
    probe = f"{PREFIX}-{os.getpid()}-probe"
    p = run(["ip", "netns", "add", probe], check=False)
    if p.returncode != 0:
        return False, f"'ip netns add' does not work here: {p.stderr.strip()}"
    try:
        q = run(["ip", "netns", "exec", probe, "nft", "list", "tables"], check=False)
        if q.returncode != 0:
            return False, f"nft does not work in a namespace: {q.stderr.strip()}"
    finally:
        run(["ip", "netns", "del", probe], check=False)
    return True, ""


def _owned_namespaces(prefix=PREFIX):
    """Yields (name, owner pid) of existing namespaces named <prefix>-<pid>-<something>."""
    p = run(["ip", "netns", "list"], check=False)
    pat = re.compile(rf"^{re.escape(prefix)}-(\d+)-\S+$")
    for line in p.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = pat.match(name)
        if m:
            yield name, int(m.group(1))


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def sweep_stale(prefix=PREFIX, log=None):
    """Deletes namespaces of *this prefix only* whose owner (the pid in the name) is gone, after killing the
    processes a dead run left inside them (by PID, from `ip netns pids`). Returns the names removed."""
    removed = []
    for name, owner in list(_owned_namespaces(prefix)):
        if owner == os.getpid() or _pid_alive(owner):
            continue
        pids = run(["ip", "netns", "pids", name], check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        run(["ip", "netns", "del", name], check=False)
        removed.append(name)
    if removed and log:
        log(f"swept {len(removed)} stale namespace(s) of dead runs: {', '.join(removed)}")
    return removed


_libc = None


def _die_with_parent():
    # In the child between fork and exec: PR_SET_PDEATHSIG(SIGKILL). `ip netns exec` execs the command, and the
    # setting survives exec, so the daemon itself is killed if the test process dies.
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


class Topology:
    def __init__(self, prefix=PREFIX, log=None):
        global _libc
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        self.base = f"{prefix}-{os.getpid()}"
        self.ns = {role: f"{self.base}-{role}" for role in ROLES}
        self.created = []
        self.procs = []
        self.log = log or (lambda msg: print(f"[netns] {msg}", file=sys.stderr, flush=True))

    # -- lifecycle -----------------------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()

    def ip(self, role, *args, check=True):
        return run(["ip", "-n", self.ns[role], *args], check=check)

    def sh(self, role, argv, check=True, timeout=20, input=None):
        """Runs argv inside the namespace of `role` and waits (bounded)."""
        return run(["ip", "netns", "exec", self.ns[role], *argv], check=check, timeout=timeout, input=input)

    def up(self):
        for role in ROLES:
            run(["ip", "netns", "add", self.ns[role]])
            self.created.append(self.ns[role])
            self.ip(role, "link", "set", "lo", "up")
        # The public segment: a bridge in the relay namespace carrying the relay's address.
        self.ip("relay", "link", "add", "pub", "type", "bridge")
        self.ip("relay", "addr", "add", f"{RELAY_IP}/{PUBLIC_NET}", "dev", "pub")
        self.ip("relay", "link", "set", "pub", "up")
        for router, (pub, gw, host, host_ip) in ROUTERS.items():
            # router wan <-> relay bridge port (named after the router)
            self.ip(router, "link", "add", "wan", "type", "veth", "peer", "name", router, "netns", self.ns["relay"])
            self.ip("relay", "link", "set", router, "master", "pub")
            self.ip("relay", "link", "set", router, "up")
            self.ip(router, "addr", "add", f"{pub}/{PUBLIC_NET}", "dev", "wan")
            self.ip(router, "link", "set", "wan", "up")
            self.ip(router, "route", "add", "default", "via", RELAY_IP)
            # router lan <-> host eth0
            self.ip(router, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", self.ns[host])
            self.ip(router, "addr", "add", f"{gw}/24", "dev", "lan")
            self.ip(router, "link", "set", "lan", "up")
            self.ip(host, "addr", "add", f"{host_ip}/24", "dev", "eth0")
            self.ip(host, "link", "set", "eth0", "up")
            self.ip(host, "route", "add", "default", "via", gw)
            # forwarding (a per-namespace sysctl) and masquerade on the public side
            self.sh(router, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            self.sh(router, ["nft", "-f", "-"], input=f"""
table ip {NFT_TABLE} {{
  chain postrouting {{ type nat hook postrouting priority srcnat; policy accept; oifname "wan" masquerade; }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
    iifname "wan" drop
  }}
  chain loss {{ type filter hook forward priority filter - 10; policy accept; }}
  chain output {{ type filter hook output priority filter; policy accept; tcp flags & rst == rst counter; }}
}}
""")
        self.log(f"topology up: namespaces {self.base}-{{{','.join(ROLES)}}}")

    def kill(self, p, sig=signal.SIGKILL, wait=10):
        """Signals one process started with popen, by PID, and reaps it (bounded)."""
        if p.poll() is None:
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)

    def down(self):
        """Kills every process started with popen (by PID), then deletes every namespace created. Idempotent."""
        for p in self.procs:
            try:
                self.kill(p)
            except Exception as e:  # keep cleaning up
                self.log(f"could not kill pid {p.pid}: {e}")
        self.procs = []
        for name in reversed(self.created):
            # Anything still inside (it should not be) would keep the namespace alive unnamed; list it.
            left = run(["ip", "netns", "pids", name], check=False).stdout.split()
            if left:
                self.log(f"processes left in {name}: {left}")
            run(["ip", "netns", "del", name], check=False)
        if self.created:
            self.log(f"topology down: deleted {len(self.created)} namespaces")
        self.created = []

    # -- processes -----------------------------------------------------------------------------------------
    def popen(self, role, argv, **kw):
        """Starts argv inside the namespace of `role` (the PID is the command's own: `ip netns exec` execs it)."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[role], *argv], preexec_fn=_die_with_parent, **kw)
        self.procs.append(p)
        return p

    def forget(self, p):
        if p in self.procs:
            self.procs.remove(p)

    # -- impairments ---------------------------------------------------------------------------------------
    def set_loss(self, router, percent):
        self.clear_loss(router)
        self.sh(router, ["nft", "add", "rule", "ip", NFT_TABLE, "loss", "numgen", "random", "mod", "100", "<",
                         str(int(percent)), "counter", "drop"])

    def clear_loss(self, router):
        self.sh(router, ["nft", "flush", "chain", "ip", NFT_TABLE, "loss"])

    def _first_counter(self, router, chain):
        """Packets counted by the first counter in `chain` of our table on `router` (0 without one)."""
        out = self.sh(router, ["nft", "-j", "list", "chain", "ip", NFT_TABLE, chain]).stdout
        for item in json.loads(out).get("nftables", []):
            for e in item.get("rule", {}).get("expr", []):
                if "counter" in e:
                    return e["counter"]["packets"]
        return 0

    def loss_counter(self, router):
        """Packets dropped by the loss rule so far (0 without one)."""
        return self._first_counter(router, "loss")

    def hold_outbound(self, router):
        """Drops everything the router's LAN host sends (a rule in the `loss` chain; clear_loss removes it)."""
        self.sh(router, ["nft", "add", "rule", "ip", NFT_TABLE, "loss", "iifname", "lan", "counter", "drop"])

    def rst_sent(self, router):
        """TCP RSTs the router itself has sent (e.g. for packets from `wan` that match no NAT mapping)."""
        return self._first_counter(router, "output")

    def cut(self, router):
        self.ip(router, "link", "set", "wan", "down")

    def restore(self, router):
        self.ip(router, "link", "set", "wan", "up")
        # The gateway is usable once the connected route is back (at once for a veth whose peer is up).
        deadline = time.monotonic() + 10
        while True:
            p = self.ip(router, "route", "replace", "default", "via", RELAY_IP, "dev", "wan", check=False)
            if p.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise NetnsError(f"{router}: cannot restore the default route: {p.stderr.strip()}")
            time.sleep(0.05)

    # -- addresses -----------------------------------------------------------------------------------------
    @staticmethod
    def public_ip(router):
        return ROUTERS[router][0]

    @staticmethod
    def host_ip(host):
        for pub, gw, h, ip in ROUTERS.values():
            if h == host:
                return ip
        raise KeyError(host)


def wait_for(pred, timeout, interval=0.1, what="condition"):
    """Polls pred() until it returns a truthy value or the deadline passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)
