#!/usr/bin/env python3
"""NAT proof for circuit relay v2 + the network mailbox (issue #7), in network namespaces this test creates.

usage: nat_test.py AQUA SOURCE_DIR [--topology-only] [--keep-going]
exit:  0 pass, 1 fail, 77 skip (not root, or `ip netns`/nft unusable here; or, without the relay server in this
       build, after the topology checks passed: see RELAY SERVER below)

Topology (tests/nat/netns.py): a public relay host 203.0.113.1; routers nat_a (203.0.113.2) and nat_b
(203.0.113.3) masquerading their LANs; alice 10.1.0.2 behind nat_a, bob 10.2.0.2 behind nat_b.

Part 1, the topology itself (no aqua):
  T1 alice and bob reach the relay, and the relay sees them as their router's public address (masquerade);
  T2 the relay cannot open a connection to alice's private address (a listener there that nat_a does reach),
     not even with a route to alice's network through nat_a (the NAT forwards only replies inward);
  T3 alice cannot reach bob, neither at his private address nor at nat_b's public one;
  T4 10% loss (nft numgen rule on nat_a) drops about 10% of 400 datagrams, and none once cleared;
  T5 with nat_a's public link cut alice cannot reach the relay; restored, she can.
Part 2, real daemons (`aqua relay serve` in relay, `aqua serve` for alice and bob, relay_v2 reserving on the relay,
contact cards exchanged through the control API):
  (a) alice -> bob N messages through the relay, each exactly once, over the relay transport;
  (b) bob stopped (SIGTERM); alice sends M (held in bob's mailbox on the relay); alice stopped too, so only the
      relay holds them; bob started -> each exactly once; alice started -> her outbox drains (bob's acks);
  (c) 10% loss on both routers: K messages each way, all exactly once;
  (d) nat_a's public link cut for a few seconds in the middle of a stream of K messages, alice -> bob (d1), then
      bob -> alice (d2, where nat_a, having forgotten the mapping, resets the relay's connection to alice): all
      exactly once.
At the end, every inbox holds every message exactly once and every outbox is drained.

RELAY SERVER: part 2 needs `aqua relay serve` (components.relay.serve). A build without it runs (a), (c), (d)
against the js-libp2p relay of tests/interop/js when node and its node_modules are there, and exits 77 because (b)
(the mailbox) did not run; without either it skips part 2 and exits 77 after part 1 passed
(AQUA_NAT_REQUIRE_RELAY=1 makes that a failure instead).

Environment: AQUA_NAT_PARTS (default abcd: fewer parts exit 77, never 0), AQUA_NAT_RELAY=js (the js-libp2p relay
of tests/interop/js: no mailbox, so no (b)), AQUA_NAT_DIRECT=0 (alice and bob do not also listen on zmq at their private
addresses, first in their cards), AQUA_NAT_LOG_LEVEL (daemons' log level, default debug), AQUA_NAT_KEEP=1 (keep
data dirs and daemon logs of a failed run), AQUA_NAT_DEADLINE_S.

Every wait is a poll with a deadline; the whole test has a deadline (AQUA_NAT_DEADLINE_S, default 300 s). Only the
processes started here are killed, by PID; the namespaces are always removed (finally + SIGTERM/SIGINT/SIGHUP
handlers; a later run sweeps namespaces of dead runs, of this test's prefix only).
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import netns  # noqa: E402

AQUA = SRC = None
PROBE = os.path.join(HERE, "probe.py")
RELAY_PORT = 4001
N_DIRECT, M_MAILBOX, K_LOSS, K_CUT = 30, 20, 60, 40
CUT_SECONDS = 5
# AQUA_NAT_RELAY: aqua (`aqua relay serve`), js (the js-libp2p relay of tests/interop/js: no mailbox, so part (b)
# is not run and the test exits 77 after the others passed), or auto (default): aqua when this aqua has the relay
# command, else js when node and tests/interop/js/node_modules are there, else part 2 is skipped (77).
RELAY_KIND = os.environ.get("AQUA_NAT_RELAY", "auto")
# AQUA_NAT_PARTS=acd: run only these parts of part 2 (default abcd); fewer parts exit 77 (never a pass).
PARTS = os.environ.get("AQUA_NAT_PARTS", "abcd")
# AQUA_NAT_DIRECT=1 (default; 0 turns it off): alice and bob also listen on zmq at their private addresses (in their cards, unreachable
# across the NATs): routing must fall back from direct to relayed.
WITH_DIRECT = os.environ.get("AQUA_NAT_DIRECT", "1") == "1"
LOG_LEVEL = os.environ.get("AQUA_NAT_LOG_LEVEL", "debug")  # the daemon logs' tails are printed on failure
T0 = time.monotonic()
DEADLINE = T0 + float(os.environ.get("AQUA_NAT_DEADLINE_S", "300"))


class Failure(Exception):
    pass


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def remaining(cap):
    """A wait bounded by `cap` seconds and by the test's overall deadline."""
    left = DEADLINE - time.monotonic()
    if left <= 0:
        raise Failure("the test's overall deadline passed (AQUA_NAT_DEADLINE_S)")
    return min(cap, left)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


# ---------------------------------------------------------------------------------------------------------------
# Part 1: the topology
# ---------------------------------------------------------------------------------------------------------------

class Probe:
    """A probe.py process inside a namespace, its JSON lines read by a thread."""

    def __init__(self, topo, role, *args):
        self.p = topo.popen(role, [sys.executable, PROBE, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                pass
        self.lines.put(None)

    def next(self, timeout):
        try:
            ev = self.lines.get(timeout=remaining(timeout))
        except queue.Empty:
            ev = None
        if ev is None:
            raise Failure(f"probe {self.p.args[3:]} said nothing within {timeout}s; stderr: "
                          f"{self.p.stderr.read() if self.p.poll() is not None else '(still running)'}")
        return ev


def connect(topo, role, host, port, timeout=2.0):
    p = topo.sh(role, [sys.executable, PROBE, "connect", host, str(port), str(timeout)], check=False,
                timeout=timeout + 10)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Failure(f"connect probe in {role} gave no result: {p.stdout} {p.stderr}")


def listener(topo, role, host, port, seconds=30):
    pr = Probe(topo, role, "listen", host, port, seconds)
    ev = pr.next(10)
    check(ev.get("event") == "listening", f"listener in {role} on {host}:{port}: {ev}")
    return pr


def topology_checks(topo):
    relay_ip = netns.RELAY_IP
    # T1: both hosts reach the relay; the relay sees each as its router's public address.
    srv = listener(topo, "relay", relay_ip, 7000)
    for host, router in (("alice", "nat_a"), ("bob", "nat_b")):
        r = connect(topo, host, relay_ip, 7000)
        check(r["ok"], f"T1: {host} cannot reach the relay at {relay_ip}:7000: {r}")
        check(r["local"][0] == topo.host_ip(host), f"T1: {host} connected from {r['local']}, not its private address")
        ev = srv.next(5)
        check(ev.get("event") == "accepted" and ev["peer"] == topo.public_ip(router),
              f"T1: the relay saw {host}'s connection from {ev}, expected {router}'s public address "
              f"{topo.public_ip(router)} (masquerade)")
    topo.kill(srv.p)
    log(f"T1 ok: alice and bob reach the relay and appear as {topo.public_ip('nat_a')} / "
        f"{topo.public_ip('nat_b')} (masquerade)")
    # T2: the relay cannot open a connection to alice (nat_a can: the listener is up).
    a_ip = topo.host_ip("alice")
    srv = listener(topo, "alice", a_ip, 7001)
    r = connect(topo, "nat_a", a_ip, 7001)
    check(r["ok"], f"T2 control: nat_a cannot reach alice's listener at {a_ip}:7001: {r}")
    r = connect(topo, "relay", a_ip, 7001, timeout=1.5)
    check(not r["ok"], f"T2: the relay opened a connection to alice's private address {a_ip}: {r}")
    r = connect(topo, "relay", topo.public_ip("nat_a"), 7001, timeout=1.5)
    check(not r["ok"], f"T2: the relay reached alice's listener through nat_a's public address: {r}")
    # Even a relay that routes alice's private network to nat_a cannot get in: the NAT forwards only replies.
    topo.ip("relay", "route", "add", "10.1.0.0/24", "via", topo.public_ip("nat_a"))
    try:
        r = connect(topo, "relay", a_ip, 7001, timeout=1.5)
    finally:
        topo.ip("relay", "route", "del", "10.1.0.0/24", "via", topo.public_ip("nat_a"))
    check(not r["ok"], f"T2: with a route through nat_a the relay opened a connection to alice: {r}")
    topo.kill(srv.p)
    log("T2 ok: the relay cannot open a connection to alice (not even routing her network to nat_a)")
    # T3: alice cannot reach bob (nat_b can).
    b_ip = topo.host_ip("bob")
    srv = listener(topo, "bob", b_ip, 7002)
    r = connect(topo, "nat_b", b_ip, 7002)
    check(r["ok"], f"T3 control: nat_b cannot reach bob's listener at {b_ip}:7002: {r}")
    for target in (b_ip, topo.public_ip("nat_b")):
        r = connect(topo, "alice", target, 7002, timeout=1.5)
        check(not r["ok"], f"T3: alice reached bob's listener at {target}:7002: {r}")
    topo.kill(srv.p)
    log("T3 ok: alice cannot reach bob directly")
    # T4: 10% loss on nat_a drops about 10% of the datagrams alice sends to the relay; none once cleared.
    n = 400
    for pct, lo, hi in ((10, 0.80 * n, 0.97 * n), (0, n, n)):
        if pct:
            topo.set_loss("nat_a", pct)
        else:
            topo.clear_loss("nat_a")
        rx = Probe(topo, "relay", "udp-count", relay_ip, 7003, 30)
        check(rx.next(10).get("event") == "listening", "T4: udp listener did not start")
        topo.sh("alice", [sys.executable, PROBE, "udp-send", relay_ip, "7003", str(n)], timeout=30)
        got = rx.next(30).get("received")
        check(got is not None and lo <= got <= hi,
              f"T4: with {pct}% loss on nat_a the relay received {got} of {n} datagrams, expected {lo:.0f}..{hi:.0f}")
        if pct:
            dropped = topo.loss_counter("nat_a")
            check(dropped == n - got, f"T4: the nft loss rule counted {dropped} drops, {n - got} datagrams missing")
        log(f"T4 ok: {pct}% loss rule on nat_a: {got}/{n} datagrams arrived")
        topo.kill(rx.p)
    # T5: cut nat_a's public link: alice cannot reach the relay; restored, she can.
    srv = listener(topo, "relay", relay_ip, 7004)
    topo.cut("nat_a")
    r = connect(topo, "alice", relay_ip, 7004, timeout=1.5)
    check(not r["ok"], f"T5: alice reached the relay with nat_a's public link down: {r}")
    topo.restore("nat_a")
    r = connect(topo, "alice", relay_ip, 7004, timeout=3)
    check(r["ok"], f"T5: alice cannot reach the relay after nat_a's link was restored: {r}")
    topo.kill(srv.p)
    log("T5 ok: cutting nat_a's public link isolates alice; restoring it reconnects her")


# ---------------------------------------------------------------------------------------------------------------
# Part 2: real daemons
# ---------------------------------------------------------------------------------------------------------------

def load_client():
    sys.path.insert(0, os.path.join(SRC, "examples", "control_client"))
    import aqua_client  # noqa: E402
    return aqua_client


def aqua(d, *args, check_rc=0):
    p = subprocess.run([AQUA, "--dir", d, *args], capture_output=True, text=True, timeout=remaining(60))
    if p.returncode != check_rc:
        raise Failure(f"aqua {' '.join(args)}: rc={p.returncode}\n{p.stdout}{p.stderr}")
    return p.stdout


def relay_server_available():
    """Whether this aqua has the `relay` command (CLI11 answers `aqua relay serve --help` with the main help and
    exit 0 even without it, so look for the subcommand in `aqua --help`)."""
    p = subprocess.run([AQUA, "--help"], capture_output=True, text=True, timeout=30)
    return any(line.split()[:1] == ["relay"] for line in p.stdout.splitlines())


class Daemon:
    """One aqua process (serve or relay serve) in a namespace; stderr goes to <dir>/daemon.log."""

    def __init__(self, topo, role, data_dir, argv, raw=False):
        self.topo, self.role, self.dir, self.argv = topo, role, data_dir, argv
        self.cmd = argv if raw else [AQUA, "--dir", data_dir, "--log-level", LOG_LEVEL, *argv]
        self.p = None
        self.log_path = os.path.join(data_dir, "daemon.log")
        self.event = None

    def start(self, timeout=30):
        logf = open(self.log_path, "a")
        logf.write(f"==== start {time.strftime('%H:%M:%S')} {' '.join(self.cmd)}\n")
        logf.flush()
        self.p = self.topo.popen(self.role, self.cmd, stdout=subprocess.PIPE, stderr=logf, text=True)
        logf.close()
        lines = queue.Queue()

        def pump(p=self.p, path=self.log_path):
            with open(path, "a") as logf:  # stdout events go to the log too (the relay's connections, ...)
                for line in p.stdout:
                    lines.put(line)
                    logf.write(f"[stdout] {line}")
                    logf.flush()
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        # The first JSON object with an "event" on stdout (log lines come on stdout too).
        deadline = time.monotonic() + remaining(timeout)
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if not line:
                raise Failure(f"{self.role}: `{' '.join(self.cmd)}` did not report serving within {timeout}s "
                              f"(rc={self.p.poll()})\n{self.tail()}")
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict) and "event" in ev:
                self.event = ev
                return ev

    def stop(self, timeout=30):
        """SIGTERM; the daemon must exit 0 within `timeout`."""
        self.topo.kill(self.p, signal.SIGTERM, wait=remaining(timeout))
        rc = self.p.returncode
        self.topo.forget(self.p)
        check(rc == 0, f"{self.role}: exit code {rc} after SIGTERM\n{self.tail()}")

    def tail(self, n=40):
        try:
            lines = open(self.log_path, errors="replace").read().splitlines()
        except OSError:
            return f"({self.log_path} unreadable)"
        return f"---- {self.role}: last {min(n, len(lines))} lines of {self.log_path}\n" + "\n".join(lines[-n:])


class Scenario:
    def __init__(self, topo, tmp):
        self.topo, self.tmp = topo, tmp
        self.client = load_client()
        self.daemons = {}
        self.ids = {}
        self.sent = {"alice": [], "bob": []}  # texts each one sent, in order

    def tails(self):
        out = []
        for who, d in self.daemons.items():
            out.append(d.tail())
            if d.p and d.p.poll() is None and not d.cmd[0].endswith("node"):
                other = {"alice": "bob", "bob": "alice"}.get(who)
                try:
                    st = self.call(who, "doctor", timeout=10, **({"peer": self.ids[other]} if other else {}))
                    st.pop("card", None)
                    path = st.pop("path", None)
                    out.append(f"---- {who}: doctor {json.dumps(st)}")
                    if path:
                        out.append(f"---- {who}: path to {other} {json.dumps(path)}")
                except Exception as e:  # a report, not a check
                    out.append(f"---- {who}: doctor unavailable: {e}")
        return "\n".join(out)

    def call(self, who, cmd, timeout=30, **args):
        with self.client.AquaClient.for_data_dir(self.daemons[who].dir, timeout=remaining(timeout)) as c:
            return c.call(cmd, **args)

    # -- setup ---------------------------------------------------------------------------------------------
    def setup(self):
        relay_dir = os.path.join(self.tmp, "relay")
        listen = f"/ip4/{netns.RELAY_IP}/tcp/{RELAY_PORT}"
        if RELAY_KIND == "js":
            os.makedirs(relay_dir)
            js = os.path.join(SRC, "tests", "interop", "js")
            self.daemons["relay"] = Daemon(self.topo, "relay", relay_dir, [
                "node", os.path.join(js, "relay.mjs"), "--host", netns.RELAY_IP, "--port", str(RELAY_PORT),
                "--limit", "none", "--ignore-stdin", "--timeout-ms", "0"], raw=True)
            ev = self.daemons["relay"].start()
            check(ev.get("event") == "listening", f"js relay: {ev}")
            self.ids["relay"] = ev["peer"]
            self.relay_addr = f"{listen}/p2p/{ev['peer']}"
            check(self.relay_addr in ev.get("addrs", []), f"js relay listens on {ev.get('addrs')}")
        else:
            self.setup_aqua_relay(relay_dir, listen)
            ev = self.daemons["relay"].start()
            check(ev.get("event") == "serving" and self.relay_addr in ev.get("relay", []),
                  f"aqua relay serve: expected the relay address {self.relay_addr} in its serving event: {ev}\n"
                  f"{self.daemons['relay'].tail()}")
        log(f"relay ({RELAY_KIND}) serving at {self.relay_addr}")
        self.setup_hosts()

    def setup_aqua_relay(self, relay_dir, listen):
        """`aqua relay serve` (docs/relay.md) with the default HOP limits and mailbox; the node config of `aqua
        init` (its loopback transport only), the relay listening on the relay host's public address."""
        self.ids["relay"] = json.loads(aqua(relay_dir, "init", "--json"))["peer_id"]
        self.relay_addr = f"{listen}/p2p/{self.ids['relay']}"
        with open(os.path.join(relay_dir, "config.yaml")) as f:
            cfg = f.read()
        with open(os.path.join(relay_dir, "config.yaml"), "w") as f:
            f.write(cfg.replace("log_level: info", f"log_level: {LOG_LEVEL}"))
        self.daemons["relay"] = Daemon(self.topo, "relay", relay_dir, ["relay", "serve", "--listen", listen, "--json"])

    def setup_hosts(self):
        for who in ("alice", "bob"):
            d = os.path.join(self.tmp, who)
            self.ids[who] = json.loads(aqua(d, "init", "--json"))["peer_id"]
            # With WITH_DIRECT the zmq transport comes first: routing would try the direct address first.
            direct = f"""  - plugin: zmq
    name: tcp
    listen: [/ip4/{self.topo.host_ip(who)}/tcp/4002]
""" if WITH_DIRECT else ""
            with open(os.path.join(d, "config.yaml"), "w") as f:
                f.write(f"""node:
  name: {who}
  log_level: {LOG_LEVEL}
components:
  identity: {{key_file: identity.key}}
  crypto: {{}}
  routing: {{routes: []}}
  relay: {{serve: false}}
  mailbox: {{}}
transports:
{direct}  - plugin: relay_v2
    name: relay
    listen: [/p2p-circuit]
    settings:
      relays: {self.relay_addr}
""")
            self.daemons[who] = Daemon(self.topo, who, d, ["serve", "--json"])
        for who in ("alice", "bob"):
            ev = self.daemons[who].start()
            circuit = f"{self.relay_addr}/p2p-circuit/p2p/{self.ids[who]}"
            check(circuit in ev.get("listen", []), f"{who}: serving without the circuit address {circuit}: {ev}\n"
                  f"{self.daemons[who].tail()}")
            log(f"{who} serving, reserved on the relay: {circuit}")
        # Cards (they carry the circuit addresses) through the control API.
        for who, other in (("alice", "bob"), ("bob", "alice")):
            card = self.call(other, "card")["card"]
            self.call(who, "contacts.add", card=card, alias=other)

    # -- messages ------------------------------------------------------------------------------------------
    def send(self, who, to, texts):
        with self.client.AquaClient.for_data_dir(self.daemons[who].dir, timeout=remaining(60)) as c:
            for t in texts:
                r = c.call("send", to=to, text=t)
                check(r.get("state") == "queued", f"{who} send {t!r}: {r}")
                self.sent[who].append(t)

    def send_paced(self, who, to, texts, interval):
        """Starts a thread sending texts one by one, `interval` s apart; returns (thread, errors)."""
        errors = []

        def run():
            try:
                with self.client.AquaClient.for_data_dir(self.daemons[who].dir, timeout=60) as c:
                    for t in texts:
                        c.call("send", to=to, text=t)
                        self.sent[who].append(t)
                        time.sleep(interval)
            except Exception as e:  # reported by join_senders
                errors.append(f"{who}: {type(e).__name__}: {e}")

        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th, errors

    def join_senders(self, senders, what):
        for th, errors in senders:
            th.join(timeout=remaining(120))
            check(not th.is_alive(), f"{what}: a sender did not finish within 120s")
            check(not errors, f"{what}: sending failed: {errors}")

    def inbox(self, who):
        return self.call(who, "inbox.list")["messages"]

    def wait_received(self, who, sender, texts, timeout, what):
        """Waits until `who` holds every text (from `sender`); then checks each is there exactly once."""
        want = set(texts)

        def have():
            got = [m for m in self.inbox(who) if m.get("text") in want]
            return got if {m["text"] for m in got} == want else None

        t0 = time.monotonic()
        got = netns.wait_for(have, remaining(timeout), interval=0.2)
        if not got:
            present = {m.get("text") for m in self.inbox(who)}
            missing = sorted(want - present)
            raise Failure(f"{what}: {who} is missing {len(missing)} of {len(want)} messages after {timeout}s, "
                          f"e.g. {missing[:5]}\n{self.tails()}")
        self.check_exactly_once(who, texts, what)
        bad = [m for m in got if m["sender"] != self.ids[sender]]
        check(not bad, f"{what}: messages with the wrong sender: {bad[:3]}")
        return time.monotonic() - t0, got

    def check_exactly_once(self, who, texts, what):
        counts = {}
        for m in self.inbox(who):
            counts[m.get("text")] = counts.get(m.get("text"), 0) + 1
        dup = {t: counts[t] for t in texts if counts.get(t, 0) > 1}
        check(not dup, f"{what}: {who} holds duplicates: {dict(list(dup.items())[:5])}")

    def wait_outbox_drained(self, who, timeout, what):
        def pending():
            return [r for r in self.call(who, "outbox.list")["messages"] if r["state"] != "delivered"]

        if netns.wait_for(lambda: not pending(), remaining(timeout), interval=0.3):
            return
        left = pending()
        states = {}
        for r in left:
            states[r["state"]] = states.get(r["state"], 0) + 1
        raise Failure(f"{what}: {who}'s outbox did not drain in {timeout}s: {len(left)} not delivered {states}, "
                      f"e.g. {left[:2]}\n{self.tails()}")

    # -- the parts -----------------------------------------------------------------------------------------
    def part_a(self):
        texts = [f"a-{i:03d} alice to bob via the relay" for i in range(N_DIRECT)]
        self.send("alice", "bob", texts)
        dt, got = self.wait_received("bob", "alice", texts, 60, "(a) relayed")
        transports = {m.get("transport") for m in got}
        check(transports == {"relay"}, f"(a) bob received over {transports}, expected only the relay_v2 transport")
        self.wait_outbox_drained("alice", 60, "(a) relayed")
        log(f"(a) ok: {N_DIRECT} messages alice -> relay -> bob, each exactly once, acked ({dt:.1f}s)")
        # aqua doctor: the relay observes alice at nat_a's public address, so she is behind NAT; the path to bob
        # is the relayed one (his direct address, when advertised, is unreachable from here).
        doc = self.call("alice", "doctor", peer=self.ids["bob"])
        observed = doc["nat"]["observed"]
        check(doc["nat"]["verdict"] == "behind_nat" and any("/ip4/203.0.113.2/" in o for o in observed),
              f"(a) alice's doctor: expected behind_nat with 203.0.113.2 observed, got {doc['nat']}")
        check(any(r["state"] == "reserved" for r in doc["relays"]), f"(a) alice's doctor: no reserved relay in {doc['relays']}")
        path = doc["path"]
        check(path["last_path"] == "relayed" and "p2p-circuit" in path["last_address"],
              f"(a) alice's doctor: the path to bob should be relayed, got {path}")
        log(f"(a) ok: doctor: alice {doc['nat']['verdict']} (relay sees {observed[0]}), path to bob: {path['decision']}")

    def part_b(self):
        self.daemons["bob"].stop()
        log("(b) bob stopped")
        texts = [f"b-{i:03d} held in the relay mailbox" for i in range(M_MAILBOX)]
        self.send("alice", "bob", texts)

        # Routing finds no live path to bob (his reservation is gone: NO_RESERVATION) and deposits each envelope in
        # bob's mailbox on the relay (docs/routing.md): alice's status counts the deposits, the outbox says `sent`.
        def deposited():
            st = self.call("alice", "status")
            return st.get("frames_deposited", 0) >= M_MAILBOX and st

        st = netns.wait_for(deposited, remaining(60), interval=0.3)
        check(st, f"(b) alice did not deposit {M_MAILBOX} envelopes in bob's mailbox on the relay within 60s "
                  f"(status frames_deposited: {self.call('alice', 'status').get('frames_deposited')})\n{self.tails()}")
        # The outbox keeps retrying (0.5 s, 1 s, 2 s ...), but a relay already holds these bytes: no deposit again.
        again = netns.wait_for(lambda: self.call("alice", "status").get("frames_deposited", 0) > M_MAILBOX, 2.5,
                               interval=0.5)
        check(not again, f"(b) alice deposited the same envelopes again: {self.call('alice', 'status').get('frames_deposited')}")
        states = {r["state"] for r in self.call("alice", "outbox.list")["messages"] if r["state"] != "delivered"}
        check(states == {"sent"}, f"(b) alice's undelivered messages are {states}, expected only 'sent' (deposited)")
        # Only the relay holds them now: alice goes offline before bob comes back.
        self.daemons["alice"].stop()
        log(f"(b) alice deposited {M_MAILBOX} messages for the offline bob on the relay "
            f"(frames_deposited {st['frames_deposited']}), then stopped too")
        self.daemons["bob"].start()
        dt, _ = self.wait_received("bob", "alice", texts, 60, "(b) mailbox")
        log(f"(b) bob restarted and fetched {M_MAILBOX} messages from the relay mailbox with alice offline "
            f"({dt:.1f}s)")
        self.daemons["alice"].start()
        self.wait_outbox_drained("alice", 60, "(b) mailbox")
        self.check_exactly_once("bob", texts, "(b) mailbox, after alice's restart")
        log("(b) ok: alice restarted, her outbox drained (bob's acks), nothing delivered twice")

    def part_c(self):
        for r in ("nat_a", "nat_b"):
            self.topo.set_loss(r, 10)
        try:
            ta = [f"c-{i:03d} alice to bob with 10% loss" for i in range(K_LOSS)]
            tb = [f"c-{i:03d} bob to alice with 10% loss" for i in range(K_LOSS)]
            t0 = time.monotonic()
            self.join_senders([self.send_paced("alice", "bob", ta, 0.05), self.send_paced("bob", "alice", tb, 0.05)],
                              "(c) 10% loss")
            self.wait_received("bob", "alice", ta, 90, "(c) 10% loss")
            self.wait_received("alice", "bob", tb, 90, "(c) 10% loss")
            for who in ("alice", "bob"):
                self.wait_outbox_drained(who, 60, "(c) 10% loss")
            dt = time.monotonic() - t0
            dropped = {r: self.topo.loss_counter(r) for r in ("nat_a", "nat_b")}
        finally:
            for r in ("nat_a", "nat_b"):
                self.topo.clear_loss(r)
        check(all(v > 0 for v in dropped.values()), f"(c) the loss rules dropped nothing: {dropped}")
        log(f"(c) ok: {K_LOSS} messages each way (50 ms apart) with 10% loss on both routers, each exactly once, "
            f"acked ({dt:.1f}s; packets dropped: {dropped})")

    def part_d(self):
        """The relay link of nat_a cut for CUT_SECONDS in the middle of a stream, twice. Linux masquerade forgets
        nat_a's mappings when `wan` goes down, so what happens after the restore depends on who sends first:
        d1) alice -> bob: alice's retransmissions reach the relay first and nat_a maps her connection again, on the
            same port; the connection survives;
        d2) bob -> alice, with alice's own packets held back for a moment after the restore: the relay's
            retransmissions toward alice reach nat_a first, match no mapping and nat_a answers them with a TCP RST
            (checked), so the relay loses alice's connection and her reservation; alice must notice, reconnect and
            reserve again, and bob must reach her through a new circuit."""
        for tag, who, to in (("d1", "alice", "bob"), ("d2", "bob", "alice")):
            texts = [f"{tag}-{i:03d} {who} to {to} across a cut of alice's relay link" for i in range(K_CUT)]
            sender = self.send_paced(who, to, texts, 0.25)
            streamed = lambda: sum(1 for t in self.sent[who] if t.startswith(tag))  # noqa: E731
            check(netns.wait_for(lambda: streamed() >= K_CUT // 4, remaining(30)), f"({tag}) the stream did not start")
            rst0 = self.topo.rst_sent("nat_a")
            self.topo.cut("nat_a")
            if tag == "d2":
                self.topo.hold_outbound("nat_a")
            log(f"({tag}) nat_a's public link cut after {streamed()} of {K_CUT} messages {who} -> {to}")
            time.sleep(CUT_SECONDS)  # the impairment itself, not a synchronisation
            self.topo.restore("nat_a")
            log(f"({tag}) nat_a's public link restored after {CUT_SECONDS}s ({streamed()} sent)")
            if tag == "d2":
                ok = netns.wait_for(lambda: self.topo.rst_sent("nat_a") > rst0, remaining(20))
                self.topo.clear_loss("nat_a")
                check(ok, "(d2) nat_a sent no RST within 20s of the restore: the relay did not retransmit to alice "
                          "(nothing in flight?), so this part would not test a reset relay connection")
                log(f"(d2) nat_a reset the relay's connection to alice ({self.topo.rst_sent('nat_a') - rst0} RST); "
                    f"alice's packets released")
            t0 = time.monotonic()
            self.join_senders([sender], f"({tag}) link cut")
            self.wait_received(to, who, texts, 90, f"({tag}) link cut")
            self.wait_outbox_drained(who, 60, f"({tag}) link cut")
            log(f"({tag}) ok: {K_CUT} messages {who} -> {to} across a {CUT_SECONDS}s cut of alice's relay link, each "
                f"exactly once, acked ({time.monotonic() - t0:.1f}s after the restore)")

    def final(self):
        for who, other in (("bob", "alice"), ("alice", "bob")):
            texts = self.sent[other]
            got = [m.get("text") for m in self.inbox(who)]
            check(sorted(got) == sorted(texts), f"final: {who}'s inbox differs from what {other} sent: "
                  f"{len(got)} held, {len(texts)} sent; missing {sorted(set(texts) - set(got))[:5]}, "
                  f"extra {sorted(set(got) - set(texts))[:5]}")
            self.wait_outbox_drained(other, 30, "final")
        log(f"final ok: bob holds {len(self.sent['alice'])} messages, alice {len(self.sent['bob'])}, each exactly "
            f"once; both outboxes drained")

    def stop_all(self):
        for who in ("alice", "bob", "relay"):
            d = self.daemons.get(who)
            if d and d.p and d.p.poll() is None:
                d.stop()


def main():
    global AQUA, SRC, RELAY_KIND
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    AQUA, SRC = os.path.abspath(args[0]), os.path.abspath(args[1])
    ok, why = netns.available()
    if not ok:
        print(f"SKIPPED: {why}", file=sys.stderr)
        return 77

    def on_signal(sig, _frame):
        raise SystemExit(f"interrupted by signal {sig}")

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    netns.sweep_stale(log=log)
    tmp = tempfile.mkdtemp(prefix="aqua-nat-")
    topo = netns.Topology(log=log)
    scenario = None
    rc = 1
    try:
        topo.up()
        topology_checks(topo)
        log("part 1 (topology) passed")
        if "--topology-only" in flags:
            return 0
        if RELAY_KIND == "auto":
            js_ok = shutil.which("node") and os.path.isdir(os.path.join(SRC, "tests", "interop", "js", "node_modules"))
            RELAY_KIND = "aqua" if relay_server_available() else "js" if js_ok else "none"
            if RELAY_KIND != "aqua":
                log("this aqua has no `aqua relay serve` (the relay server): "
                    + ("using the js-libp2p relay, part (b) will not run" if js_ok else "no js relay either"))
        if RELAY_KIND == "aqua" and not relay_server_available():
            raise Failure("AQUA_NAT_RELAY=aqua but this aqua has no `aqua relay serve`")
        if RELAY_KIND == "none":
            msg = ("part 2 (daemons) NOT RUN: this aqua has no `aqua relay serve` (the relay server) and there is no "
                   "js relay (node + tests/interop/js/node_modules)")
            if os.environ.get("AQUA_NAT_REQUIRE_RELAY") == "1":
                raise Failure(msg)
            print(f"SKIPPED: {msg}", file=sys.stderr)
            rc = 77
            return rc
        scenario = Scenario(topo, tmp)
        scenario.setup()
        parts = {"a": scenario.part_a, "b": scenario.part_b, "c": scenario.part_c, "d": scenario.part_d}
        run_parts = [p for p in PARTS if p in parts]
        if RELAY_KIND == "js" and "b" in run_parts:
            run_parts.remove("b")  # the js relay has no mailbox
        for p in run_parts:
            parts[p]()
        scenario.final()
        scenario.stop_all()
        not_run = sorted(set(parts) - set(run_parts))
        if not_run:
            print(f"SKIPPED: part(s) {', '.join(not_run)} NOT RUN (AQUA_NAT_PARTS={PARTS}, AQUA_NAT_RELAY={RELAY_KIND}); "
                  f"{', '.join(run_parts)} passed in {time.monotonic() - T0:.1f}s", file=sys.stderr)
            rc = 77
            return rc
        log(f"PASSED in {time.monotonic() - T0:.1f}s")
        rc = 0
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr)
    except SystemExit as e:
        print(f"ABORTED: {e}", file=sys.stderr)
    except Exception:
        import traceback
        print(f"FAILED (unexpected error):\n{traceback.format_exc()}", file=sys.stderr)
        if scenario:
            print(scenario.tails(), file=sys.stderr)
    finally:
        topo.down()
        if rc == 0 or os.environ.get("AQUA_NAT_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"data dirs and daemon logs kept in {tmp}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
