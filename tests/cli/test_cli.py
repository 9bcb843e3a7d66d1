#!/usr/bin/env python3
"""End-to-end tests of the aqua CLI: real processes, real files.

Usage: test_cli.py <path to aqua binary> <source dir>
"""
import base64
import json
import os
import stat
import subprocess
import sys
import tempfile
import unittest

AQUA = None
SRC = None


def run(*args, env=None, check=None):
    e = dict(os.environ)
    e.pop("AQUA_DIR", None)
    if env:
        e.update(env)
    p = subprocess.run([AQUA, *args], capture_output=True, text=True, env=e, timeout=60)
    if check is not None:
        assert p.returncode == check, f"{args}: rc={p.returncode}\nstdout={p.stdout}\nstderr={p.stderr}"
    return p


def command_paths():
    """Every command path of the CLI ([] is aqua itself), walked from --help."""
    def subcommands(path):
        out = run(*path, "--help", check=0).stdout
        names = []
        for line in out.split("Subcommands:")[1].splitlines()[1:] if "Subcommands:" in out else []:
            if not line.strip():
                break
            if line.startswith("  ") and not line.startswith("    "):
                names.append(line.split()[0])
        return names

    paths, todo = [], [[]]
    while todo:
        p = todo.pop()
        paths.append(p)
        todo.extend(p + [s] for s in subcommands(p) if len(p) < 3)
    return paths


class InitAndId(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aqua-cli-")
        self.dir = os.path.join(self.tmp.name, "agent")

    def tearDown(self):
        self.tmp.cleanup()

    def test_init_creates_private_dir_key_and_config(self):
        p = run("--dir", self.dir, "init", "--json", check=0)
        out = json.loads(p.stdout)
        self.assertTrue(out["peer_id"].startswith("12D3KooW"))
        self.assertEqual(stat.S_IMODE(os.stat(self.dir).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.dir, "identity.key")).st_mode), 0o600)
        cfg = os.path.join(self.dir, "config.yaml")
        self.assertTrue(os.path.exists(cfg))
        run("config", "check", cfg, check=0)

    def test_id_json_prints_peer_id_and_public_key(self):
        init = json.loads(run("--dir", self.dir, "init", "--json", check=0).stdout)
        out = json.loads(run("--dir", self.dir, "id", "--json", check=0).stdout)
        self.assertEqual(set(out), {"peer_id", "public_key"})
        self.assertEqual(out["peer_id"], init["peer_id"])
        self.assertEqual(len(out["public_key"]), 64)
        plain = run("--dir", self.dir, "id", check=0).stdout.strip()
        self.assertEqual(plain, out["peer_id"])

    def test_aqua_dir_env_is_used_when_no_flag(self):
        run("init", env={"AQUA_DIR": self.dir}, check=0)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "identity.key")))
        run("id", env={"AQUA_DIR": self.dir}, check=0)

    def test_init_refuses_to_overwrite_without_force(self):
        first = json.loads(run("--dir", self.dir, "init", "--json", check=0).stdout)
        p = run("--dir", self.dir, "init", check=4)
        self.assertIn("already holds an identity", p.stderr)
        self.assertIn("--force", p.stderr)
        self.assertEqual(json.loads(run("--dir", self.dir, "id", "--json", check=0).stdout)["peer_id"], first["peer_id"])
        os.mkdir(os.path.join(self.dir, "store"))  # as `aqua serve` leaves it (the old identity's sessions, inbox...)
        second = json.loads(run("--dir", self.dir, "init", "--force", "--json", check=0).stdout)
        self.assertNotEqual(second["peer_id"], first["peer_id"])
        # The old identity and its store are kept aside, not deleted, and not mixed with the new identity.
        old = second["replaced"]
        self.assertEqual(json.loads(run("--dir", old, "id", "--json", check=0).stdout)["peer_id"], first["peer_id"])
        self.assertTrue(os.path.isdir(os.path.join(old, "store")))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "store")))
        self.assertEqual(stat.S_IMODE(os.stat(old).st_mode), 0o700)

    def test_init_never_takes_over_a_shared_dir_or_a_lost_identitys_files(self):
        # A directory open to others and holding other files (/tmp, a home): refused, its mode left alone.
        shared = os.path.join(self.tmp.name, "shared")
        os.mkdir(shared)
        os.chmod(shared, 0o1777)
        open(os.path.join(shared, "someone-elses"), "w").close()
        p = run("--dir", shared, "init", check=4)
        self.assertIn("is open to others (mode 1777)", p.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(shared).st_mode), 0o1777)
        # An empty one is ours to tighten.
        empty = os.path.join(self.tmp.name, "empty")
        os.mkdir(empty)
        os.chmod(empty, 0o755)
        run("--dir", empty, "init", check=0)
        self.assertEqual(stat.S_IMODE(os.stat(empty).st_mode), 0o700)
        # A config (and store) whose key went missing: not overwritten without --force, moved aside with it.
        run("--dir", self.dir, "init", check=0)
        cfg = os.path.join(self.dir, "config.yaml")
        with open(cfg, "a") as f:
            f.write("# my own changes\n")
        os.remove(os.path.join(self.dir, "identity.key"))
        p = run("--dir", self.dir, "init", check=4)
        self.assertIn("holds a config or a store but no identity key", p.stderr)
        self.assertIn("# my own changes", open(cfg).read())
        out = json.loads(run("--dir", self.dir, "init", "--force", "--json", check=0).stdout)
        self.assertIn("# my own changes", open(os.path.join(out["replaced"], "config.yaml")).read())

    def test_init_writes_any_node_name_as_one_string_and_refuses_names_that_are_paths(self):
        for name in ("x: y", "#x", "a\"b"):
            d = os.path.join(self.tmp.name, "n" + str(len(name)) + name[0].replace("#", "h").replace('"', "q"))
            run("--dir", d, "init", "--name", name, check=0)
            run("config", "check", os.path.join(d, "config.yaml"), check=0)
        self.assertIn("--name: a node name must not", run("--dir", self.dir, "init", "--name", "../x", check=2).stderr)
        self.assertIn("control characters", run("--dir", self.dir, "init", "--name", "x\n  log_level: off", check=2).stderr)
        self.assertFalse(os.path.exists(self.dir))
        # Error messages quote what they refuse: escaped, never raw escape sequences for the terminal.
        run("--dir", self.dir, "init", check=0)
        p = run("--dir", self.dir, "contacts", "show", "\x1b]0;owned\x07\x1b[2J", check=1)
        self.assertIn("no contact '\\x1b]0;owned\\x07\\x1b[2J'", p.stderr)
        self.assertNotIn("\x1b", p.stderr)

    def test_init_with_a_bad_listen_address_writes_nothing(self):
        p = run("--dir", self.dir, "init", "--listen", "notanaddr", check=2)
        self.assertIn("--listen 'notanaddr'", p.stderr)
        p = run("--dir", self.dir, "init", "--listen", "/ip4/127.0.0.1/udp/5", check=2)  # a multiaddr zmq cannot use
        self.assertIn("--listen '/ip4/127.0.0.1/udp/5': init gives it to the zmq transport, which needs", p.stderr)
        relayed = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWQ3nucUpHghDry6AKkXWvLyjNeVM8aFS9w6R3Nn5q24Ht/p2p-circuit"
        p = run("--dir", self.dir, "init", "--listen", relayed, check=2)  # zmq would refuse it at serve
        self.assertIn("init writes a zmq transport (direct TCP); to be reached through a relay", p.stderr)
        p = run("--dir", self.dir, "init", "--listen", "/ip4/127.0.0.1/tcp/4001", "--listen", "/ip4/127.0.0.1/tcp/4001",
                check=2)  # serve would collide with itself (address_in_use)
        self.assertIn("--listen '/ip4/127.0.0.1/tcp/4001' is given twice", p.stderr)
        p = run("--dir", self.dir, "init", "--relay", "/ip4/127.0.0.1/tcp/4001", check=2)  # no relay peer ID
        self.assertIn("--relay '/ip4/127.0.0.1/tcp/4001': ", p.stderr)
        self.assertIn("as 'aqua relay serve' prints it", p.stderr)
        relay = relayed[:-len("/p2p-circuit")]
        p = run("--dir", self.dir, "init", "--relay", relay, "--relay", relay, check=2)
        self.assertIn(f"--relay '{relay}' is given twice", p.stderr)
        self.assertFalse(os.path.exists(self.dir))
        run("--dir", self.dir, "init", "--listen", "/ip4/127.0.0.1/tcp/4001", check=0)

    def test_init_with_relays_writes_a_relay_v2_transport_that_config_check_accepts(self):
        relay2 = "/ip4/127.0.0.2/tcp/4002/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
        relay = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWQ3nucUpHghDry6AKkXWvLyjNeVM8aFS9w6R3Nn5q24Ht"
        run("--dir", self.dir, "init", "--relay", relay, "--relay", relay2, check=0)
        p = run("--dir", self.dir, "config", "check", "--json", check=0)
        self.assertTrue(json.loads(p.stdout)["ok"], p.stdout)
        with open(os.path.join(self.dir, "config.yaml")) as f:
            cfg = f.read()
        self.assertIn(f'  - plugin: relay_v2', cfg)
        self.assertIn(f'    settings: {{relays: "{relay},{relay2}"}}\n', cfg)
        self.assertIn("plugin: loopback", cfg)  # the in-process address stays (agents, the CLI's own node)

    def test_inbox_and_outbox_of_a_node_that_never_ran_are_empty(self):
        p = run("--dir", self.dir, "inbox", "list", check=4)
        self.assertIn(f"run 'aqua --dir {self.dir} init' first", p.stderr)
        p = run("--dir", self.dir, "id", check=4)
        self.assertIn("no_identity", p.stderr)
        self.assertIn(f"run 'aqua --dir {self.dir} init' first", p.stderr)  # not a bare 'aqua init': ~/.aqua
        p = run("--dir", self.dir, "card", "export", check=4)
        self.assertIn(f"run 'aqua --dir {self.dir} init' first", p.stderr)
        run("--dir", self.dir, "init", check=0)
        self.assertEqual(json.loads(run("--dir", self.dir, "inbox", "list", "--json", check=0).stdout), {"messages": []})
        self.assertEqual(json.loads(run("--dir", self.dir, "outbox", "list", "--json", check=0).stdout), {"messages": []})
        p = run("--dir", self.dir, "inbox", "read", "1", check=1)
        self.assertIn("has not run yet", p.stderr)
        store = os.path.join(self.dir, "store")
        os.mkdir(store)  # an empty store dir: still a node that never ran
        self.assertIn("an empty store dir at", run("--dir", self.dir, "store", "check", check=1).stderr)
        os.rmdir(store)
        os.symlink(store, store)  # a store that cannot be read is not an empty one
        for args in (("inbox", "list"), ("outbox", "list"), ("store", "check")):
            p = run("--dir", self.dir, *args, check=1)
            self.assertIn(f"cannot read store '{store}': Too many levels of symbolic links", p.stderr)
        os.remove(store)

    def test_an_init_whose_config_cannot_be_written_leaves_no_key_behind(self):
        # (A full disk did this: the key was written, the config not, and every later init said already_exists.)
        os.makedirs(os.path.join(self.dir, "config.yaml.tmp"))  # the config's temporary file cannot be made
        os.chmod(self.dir, 0o700)
        p = run("--dir", self.dir, "init", check=1)
        self.assertIn("config.yaml.tmp", p.stderr)
        self.assertIn("(the new identity key was removed again: run init again once that is fixed)", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "identity.key")))
        os.rmdir(os.path.join(self.dir, "config.yaml.tmp"))
        run("--dir", self.dir, "init", check=0)

    def test_id_refuses_a_group_readable_key_like_ssh(self):
        run("--dir", self.dir, "init", check=0)
        key = os.path.join(self.dir, "identity.key")
        os.chmod(key, 0o644)
        p = run("--dir", self.dir, "id", check=4)
        self.assertIn("too open", p.stderr)
        self.assertIn("chmod 600 " + key, p.stderr)
        j = json.loads(run("--dir", self.dir, "id", "--json", check=4).stdout)
        self.assertEqual(j["error"]["code"], "insecure_permissions")

    def test_a_data_dir_that_is_a_file_is_a_usage_error_naming_where_it_came_from(self):
        f = os.path.join(self.tmp.name, "file")
        open(f, "w").close()
        for args in (("id",), ("inbox", "list"), ("outbox", "list"), ("status",), ("contacts", "list"), ("init",)):
            p = run("--dir", f, *args, check=2)
            self.assertIn(f"data dir '{f}'", p.stderr)
            self.assertIn("is not a directory", p.stderr)
        p = run("id", env={"AQUA_DIR": f}, check=2)
        self.assertIn(f"data dir '{f}' (AQUA_DIR) is not a directory", p.stderr)

    def test_plugin_check_self_tests_and_a_bad_listen_address_is_a_usage_error(self):
        p = run("plugin", "check", "loopback", "--listen", "/memory/cli-check", "--json", check=0)
        self.assertEqual(json.loads(p.stdout)["self_test"], "passed")
        p = run("plugin", "check", "zmq", "--listen", "/ip4/1.2.3/tcp/1", check=2)
        self.assertIn("--listen '/ip4/1.2.3/tcp/1' is no address this plugin listens on", p.stderr)
        self.assertIn("not an IPv4 address", p.stderr)
        p = run("plugin", "check", "relay_v2", "--listen", "/p2p-circuit", check=2)  # at once, not after 10 s
        self.assertIn("/p2p-circuit reserves on the relays of the 'relays' setting, and it names none", p.stderr)
        p = run("plugin", "check", "nosuch", "--json", check=1)
        self.assertIn("nosuch", json.loads(p.stdout)["error"]["message"])
        p = run("plugin", "check", "/x/libaqua_transport_zmq.so", check=2)  # a path is not a name
        self.assertIn("give the plugin's name (e.g. zmq for libaqua_transport_zmq.so)", p.stderr)
        p = run("plugin", "check", "news", check=1)  # an agent plugin: says how agents are checked
        self.assertIn("libaqua_agent_news.so is an agent plugin: 'aqua plugin check' checks transports; check an "
                      "agent with 'aqua config check'", p.stderr)

    def test_id_without_init_says_what_to_do(self):
        p = run("--dir", self.dir, "id", check=4)
        self.assertIn(f"aqua --dir {self.dir} init", p.stderr)

    def test_corrupt_key_file_is_a_precise_error(self):
        run("--dir", self.dir, "init", check=0)
        key = os.path.join(self.dir, "identity.key")
        with open(key, "w") as f:
            f.write("aqua-ed25519-seed-v1 1234\n")
        p = run("--dir", self.dir, "id", check=4)
        self.assertIn("64 hex digits", p.stderr)
        # status without a daemon says what 'aqua serve', the command it suggests, would fail on.
        p = run("--dir", self.dir, "status", check=5)
        self.assertIn("but 'aqua serve' would fail now: bad_key_file", p.stdout)
        self.assertIn("64 hex digits", json.loads(run("--dir", self.dir, "status", "--json", check=5).stdout)
                      ["serve_would_fail"])

    def test_commands_without_a_daemon_use_the_key_file_the_config_names(self):
        # serve reads components.identity.key_file; until 2026-11-28 id, status, card export and contacts read
        # identity.key whatever the config said (card export then wrote the other identity's keys to the store).
        other = os.path.join(self.tmp.name, "other")
        run("--dir", self.dir, "init", check=0)
        run("--dir", other, "init", check=0)
        want = json.loads(run("--dir", other, "id", "--json", check=0).stdout)["peer_id"]
        mine = json.loads(run("--dir", self.dir, "id", "--json", check=0).stdout)["peer_id"]
        with open(os.path.join(other, "identity.key"), "rb") as f:
            key = f.read()
        fd = os.open(os.path.join(self.dir, "other.key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, key)
        os.close(fd)
        cfg = os.path.join(self.dir, "config.yaml")
        with open(cfg) as f:
            text = f.read()
        self.assertIn("key_file: identity.key", text)
        with open(cfg, "w") as f:
            f.write(text.replace("key_file: identity.key", "key_file: other.key"))
        self.assertNotEqual(want, mine)
        self.assertEqual(json.loads(run("--dir", self.dir, "id", "--json", check=0).stdout)["peer_id"], want)
        self.assertEqual(json.loads(run("--dir", self.dir, "status", "--json", check=5).stdout)["peer_id"], want)
        self.assertEqual(json.loads(run("--dir", self.dir, "card", "export", "--json", check=0).stdout)["peer_id"], want)
        os.remove(os.path.join(self.dir, "other.key"))
        p = run("--dir", self.dir, "id", check=4)
        self.assertIn("components.identity.key_file " + os.path.join(self.dir, "other.key"), p.stderr)
        with open(cfg, "a") as f:
            f.write("bogus: [\n")
        self.assertIn("config.yaml", run("--dir", self.dir, "id", check=3).stderr)
        self.assertIn("config.yaml", run("--dir", self.dir, "card", "export", check=3).stderr)

    def test_a_card_exported_without_a_daemon_lists_the_addresses_the_daemon_would(self):
        relay = os.path.join(self.tmp.name, "relay")
        run("--dir", relay, "init", check=0)
        relay_id = json.loads(run("--dir", relay, "id", "--json", check=0).stdout)["peer_id"]
        run("--dir", self.dir, "init", "--listen", "/ip4/127.0.0.1/tcp/0", check=0)
        me = json.loads(run("--dir", self.dir, "id", "--json", check=0).stdout)["peer_id"]
        r1, r2 = f"/ip4/127.0.0.1/tcp/47001/p2p/{relay_id}", f"/ip4/127.0.0.1/tcp/47002/p2p/{relay_id}"
        with open(os.path.join(self.dir, "config.yaml"), "a") as f:
            f.write(f"  - plugin: relay_v2\n    listen: [/p2p-circuit]\n    settings: {{relays: \"{r1}, {r2}\"}}\n")
        p = run("--dir", self.dir, "card", "export", "--json", check=0)
        addresses = json.loads(p.stdout)["addresses"]
        # A bare /p2p-circuit (undialable: it names no relay) and a port 0 are not in it; the reservations are.
        self.assertIn(f"{r1}/p2p-circuit/p2p/{me}", addresses)
        self.assertIn(f"{r2}/p2p-circuit/p2p/{me}", addresses)
        self.assertNotIn("/p2p-circuit", addresses)
        self.assertFalse([a for a in addresses if a.endswith("/tcp/0")], addresses)
        self.assertIn("leaves out /ip4/127.0.0.1/tcp/0 (port 0", p.stderr)


class CardsAndContacts(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aqua-cli-")
        self.a = os.path.join(self.tmp.name, "a")
        self.b = os.path.join(self.tmp.name, "b")
        run("--dir", self.a, "init", check=0)
        run("--dir", self.b, "init", check=0)

    def tearDown(self):
        self.tmp.cleanup()

    def test_card_export_json_describes_a_signed_card(self):
        p = run("--dir", self.a, "card", "export", "--capability", "x" * 65, check=2)
        self.assertIn("is not 1 to 64 characters of a-z 0-9 . _ / -", p.stderr)
        out = json.loads(run("--dir", self.a, "card", "export", "--json", "--capability", "research", check=0).stdout)
        self.assertTrue(out["card"].startswith("aqua-card-v1:"))
        self.assertEqual(out["peer_id"], json.loads(run("--dir", self.a, "id", "--json", check=0).stdout)["peer_id"])
        self.assertEqual(out["capabilities"], ["research"])
        self.assertEqual(len(out["one_time_prekeys"]), 20)
        self.assertTrue(out["addresses"][0].startswith("/memory/"))
        store = os.path.join(self.a, "store")  # the E2EE keys live in the node's LevelDB store
        self.assertEqual(stat.S_IMODE(os.stat(store).st_mode), 0o700)
        for f in os.listdir(store):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(store, f)).st_mode) & 0o077, 0, f)

    def test_add_list_verify_block_remove(self):
        card = run("--dir", self.a, "card", "export", check=0).stdout.strip()
        card_file = os.path.join(self.tmp.name, "a.card")
        with open(card_file, "w") as f:
            f.write(card + "\n")
        self.assertIn("own card", run("--dir", self.a, "contacts", "add", card_file, check=2).stderr)
        p = run("--dir", self.b, "contacts", "add", card_file, "--alias=-x", check=2)  # 'send -x' would be an option
        self.assertIn("alias '-x' must not start with '-'", p.stderr)
        added = json.loads(run("--dir", self.b, "contacts", "add", card_file, "--alias", "alice", "--json", check=0).stdout)
        self.assertEqual(added["trust"], "unverified")
        self.assertFalse(added["refreshed"])
        shown = json.loads(run("--dir", self.b, "contacts", "show", "alice", "--json", check=0).stdout)
        self.assertEqual({k: v for k, v in added.items() if k != "refreshed"},  # the same fields as show and the API
                         {k: v for k, v in shown.items() if k != "safety_code"})
        listed = json.loads(run("--dir", self.b, "contacts", "list", "--json", check=0).stdout)["contacts"]
        self.assertEqual([c["alias"] for c in listed], ["alice"])
        v = json.loads(run("--dir", self.b, "contacts", "verify", "alice", "--json", check=0).stdout)
        self.assertEqual(v["trust"], "verified")
        # both sides compute the same safety code
        run("--dir", self.a, "contacts", "add", run("--dir", self.b, "card", "export", check=0).stdout.strip(),
            "--alias", "bob", check=0)
        mine = json.loads(run("--dir", self.a, "contacts", "show", "bob", "--json", check=0).stdout)["safety_code"]
        self.assertEqual(mine, v["safety_code"])
        self.assertEqual(json.loads(run("--dir", self.b, "contacts", "block", added["peer_id"], "--json", check=0).stdout)["trust"], "blocked")
        run("--dir", self.b, "contacts", "remove", "alice", check=0)
        self.assertEqual(json.loads(run("--dir", self.b, "contacts", "list", "--json", check=0).stdout)["contacts"], [])
        run("--dir", self.b, "contacts", "show", "alice", check=1)

    def test_tampered_and_garbage_cards_are_refused(self):
        card = run("--dir", self.a, "card", "export", check=0).stdout.strip()
        body = card[len("aqua-card-v1:"):]
        flipped = card[:-10] + ("A" if card[-10] != "A" else "B") + card[-9:]
        p = run("--dir", self.b, "contacts", "add", flipped, "--json", check=4)
        self.assertIn(json.loads(p.stdout)["error"]["code"], ("bad_card_signature", "bad_card"))
        p = run("--dir", self.b, "contacts", "add", "aqua-card-v1:" + body[:40], check=4)
        self.assertIn("bad_card", p.stderr)
        p = run("--dir", self.b, "contacts", "add", "hello", check=1)  # a missing file, as 'send --file'
        self.assertIn("neither a card file (no such file) nor card text", p.stderr)
        # A card of a version this aqua does not read: a card problem (exit 4) like the others, not exit 1.
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        newer = "aqua-card-v1:" + base64.urlsafe_b64encode(bytes([2]) + raw[1:]).decode().rstrip("=")
        p = run("--dir", self.b, "contacts", "add", newer, "--json", check=4)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "unknown_version")
        self.assertIn("card version 2", json.loads(p.stdout)["error"]["message"])

    def test_alias_conflicts_are_refused(self):
        run("--dir", self.b, "contacts", "add", run("--dir", self.a, "card", "export", check=0).stdout.strip(), "--alias", "x", check=0)
        c = os.path.join(self.tmp.name, "c")
        run("--dir", c, "init", check=0)
        p = run("--dir", self.b, "contacts", "add", run("--dir", c, "card", "export", check=0).stdout.strip(), "--alias", "x", check=1)
        self.assertIn("conflict: alias 'x' already names", p.stderr)


class Usage(unittest.TestCase):
    def test_help_lists_commands_and_exit_codes(self):
        p = run("--help", check=0)
        for word in ("init", "id", "demo", "Exit codes"):
            self.assertIn(word, p.stdout)
        self.assertIn("Examples", run("init", "--help", check=0).stdout)

    def test_unknown_command_and_bad_flags_exit_2_without_trace(self):
        p = run("frobnicate", check=2)
        self.assertIn("aqua --help", p.stderr)
        self.assertIn("unknown command 'frobnicate' for 'aqua'", p.stderr)
        self.assertIn("unknown command 'bogus' for 'aqua inbox' (it knows: list, read", run("inbox", "bogus", check=2).stderr)
        # Numbers: no wrap-around of negative values, no saturation of huge ones.
        for args in (("inbox", "read", "-1"), ("inbox", "delete", "-5"), ("inbox", "list", "--limit", "-1"),
                     ("inbox", "list", "--since", "18446744073709551616"), ("inbox", "watch", "--since", "x")):
            self.assertIn("is not a whole number", run(*args, check=2).stderr, args)
        run("--log-level", "loud", "id", check=2)
        # An empty value is not "none": `--message-id "$ID"` with ID unset made every retry a new message.
        for args in (("send", "bob", "x", "--message-id", ""), ("send", "bob", "x", "--ttl", ""), ("send", "", "x"),
                     ("doctor", ""), ("outbox", "list", "--to", "")):
            self.assertIn("must not be empty", run(*args, check=2).stderr, args)
        run(check=2)
        self.assertIn("--dir is empty", run("--dir", "", "id", check=2).stderr)  # not a silent ~/.aqua
        self.assertIn("AQUA_DIR is set but empty", run("id", env={"AQUA_DIR": ""}, check=2).stderr)
        self.assertRegex(run("--version", check=0).stdout, r"^aqua \d+\.\d+\.\d+\n$")
        self.assertEqual(json.loads(run("--version", "--json", check=0).stdout)["name"], "aqua")

    def test_an_empty_message_is_refused_unless_it_has_a_topic(self):
        peer = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            empty = os.path.join(tmp, "empty")
            open(empty, "w").close()
            env = {"AQUA_DIR": os.path.join(tmp, "never-initialised")}
            self.assertIn("nothing to send: the text is empty", run("send", peer, "", env=env, check=2).stderr)
            self.assertIn("--file '" + empty + "' is empty", run("send", peer, "--file", empty, env=env, check=2).stderr)
            p = subprocess.run([AQUA, "send", peer, "-"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               env={**os.environ, **env}, timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("stdin is empty (give --topic", p.stderr)
            # With a topic the empty message is a signal: it gets as far as looking for the daemon.
            self.assertEqual(run("send", peer, "", "--topic", "ping", env=env).returncode, 5)
            self.assertEqual(run("send", peer, "--topic", "ping", env=env).returncode, 5)  # no text at all: the same
            # A C1 control is UTF-8 (U+0085 here): not refused as "not UTF-8".
            self.assertEqual(run("send", peer, "hi", "--topic", "a\u0085b", env=env).returncode, 5)
            # Checked before any daemon is asked, in the CLI's own terms.
            for args, want in ((("--ttl", "1000d"), "--ttl '1000d' is more than a year (365d)"),
                               (("--timeout", "5s"), "--timeout is how long --wait waits for the ack: give --wait too"),
                               (("--wait", "--timeout", "0"), "--timeout '0' is zero"),
                               (("--wait", "--timeout", "400d"), "--timeout '400d' is more than a year (365d)"),
                               (("--topic", "ok\udcff"), "--topic is not UTF-8 text (byte 2)"),  # the byte 0xff
                               (("--message-id", "xyz"), "--message-id 'xyz': expected 32 hex digits"),
                               (("--ttl", "soon"), "expected a duration like 30s, 5m, 2h or 7d")):
                self.assertIn(want, run("send", peer, "hi", *args, env=env, check=2).stderr, args)
            big = os.path.join(tmp, "big")
            with open(big, "wb") as f:
                f.truncate(3 << 20)
            p = run("send", peer, "--file", big, env=env, check=1)
            self.assertIn("takes at most crypto.max_frame_bytes (1 MiB by default)", p.stderr)

    def test_usage_errors_are_json_with_json_flag(self):
        for args, command in ((("--json", "relay"), "relay"), (("status", "stray", "--json"), "status"),
                              (("send", "--json"), "send")):
            p = run(*args, check=2)
            err = json.loads(p.stdout.strip().splitlines()[-1])["error"]
            self.assertEqual(err["code"], "invalid_argument")
            self.assertIn(f"(see 'aqua {command} --help')", err["message"])  # the help of the command it is in

    def test_every_command_help_shows_examples_of_that_command(self):
        # CLI11 hands a parent's footer down: a group or a command without its
        # own footer used to show aqua's top-level examples (init, id, serve...).
        for path in command_paths():
            if not path:
                continue
            out = run(*path, "--help", check=0).stdout
            self.assertIn("Example", out, path)
            examples = out[out.index("Example"):]
            self.assertRegex(examples, r"\n  aqua (--dir \S+ )?" + " ".join(path) + r"\b", f"{path}:\n{examples}")
            self.assertNotIn("aqua config check configs/node.example.yaml\n  aqua demo", out, path)

    def test_every_command_help_lists_the_exit_codes(self):
        for path in command_paths():
            out = run(*path, "--help", check=0).stdout
            for code in ("0 ok", "2 bad usage", "3 invalid or unreadable config", "5 no daemon running", "6 timed out"):
                self.assertIn(code, out, path)
            self.assertEqual(out.count("Exit codes:"), 1, f"{path}:\n{out}")

    def test_every_command_answers_garbage_with_a_precise_error_never_a_crash(self):
        # Walks the command tree from --help and feeds every command bad
        # arguments; long-running commands (a daemon, a watch) are left out.
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            env = {"AQUA_DIR": os.path.join(tmp, "agent")}
            run("init", env=env, check=0)
            paths = command_paths()
            self.assertGreater(len(paths), 25)
            garbage = ["x", "-1", "99999999999999999999", "12D3KooWnotapeer", "\udcff\udcfe", "--ttl=-5",
                       "--file=/nonexistent", "a" * 3000]
            long_running = ({"serve"}, {"relay", "serve"}, {"inbox", "watch"}, {"demo"})
            for path in paths:
                if set(path) in long_running or not path:
                    continue
                for bad in garbage:
                    for json_flag in ([], ["--json"]):
                        args = [*json_flag, *path, bad]
                        p = subprocess.run([AQUA, *args], capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                                           env={**os.environ, **env})
                        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
                        self.assertTrue(0 <= p.returncode <= 6, f"{args}: rc={p.returncode} {err[-300:]}")
                        self.assertNotIn("terminate called", err, args)
                        if p.returncode == 0:
                            continue
                        if json_flag:
                            self.assertIn("error", json.loads(out.strip().splitlines()[-1]), args)
                        else:
                            self.assertTrue(err.startswith("aqua: error: "), f"{args}: {err[:300]}")

    def test_endless_or_wrong_kind_of_input_files_are_refused_precisely(self):
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            env = {"AQUA_DIR": os.path.join(tmp, "agent")}
            run("init", env=env, check=0)
            p = run("config", "check", "/dev/zero", env=env, check=3)
            self.assertIn("larger than 1048576 bytes", p.stderr)
            p = run("contacts", "add", "/dev/zero", env=env, check=4)
            self.assertIn("card file '/dev/zero' is larger than", p.stderr)
            fifo = os.path.join(tmp, "fifo")
            os.mkfifo(fifo)  # no writer: used to block in open(2) for good
            p = run("config", "check", fifo, env=env, check=3)
            self.assertIn(fifo, p.stderr)
            run("contacts", "add", fifo, env=env, check=4)
            # A pipe with a writer (what --file <(command) gives) is read to its end.
            other = {"AQUA_DIR": os.path.join(tmp, "other")}
            run("init", env=other, check=0)
            card = run("card", "export", env=other, check=0).stdout
            r, w = os.pipe()
            os.write(w, card.encode())
            os.close(w)
            p = subprocess.run([AQUA, "contacts", "add", f"/dev/fd/{r}", "--alias", "other"], pass_fds=(r,), text=True,
                               capture_output=True, env={**os.environ, **env}, timeout=60)
            os.close(r)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("other", run("contacts", "list", env=env, check=0).stdout)
            p = run("contacts", "add", tmp, "--json", env=env, check=2)
            self.assertIn("is a directory", json.loads(p.stdout)["error"]["message"])
            big = os.path.join(tmp, "big.bin")
            with open(big, "wb") as f:
                f.truncate(3 << 20)
            p = run("send", "12D3KooWAnyone", "--file", big, "--json", env=env, check=1)
            self.assertEqual(json.loads(p.stdout)["error"]["code"], "frame_too_large")

    def test_demo_prints_a_hostile_topic_escaped(self):
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            p = run("demo", "--work-dir", tmp, "--topic", "ev\x1b[2J\x1b]0;owned\x07", check=0)
            self.assertNotIn("\x1b", p.stdout)
            self.assertNotIn("\x07", p.stdout)
            self.assertIn("ev\\x1b[2J\\x1b]0;owned\\x07", p.stdout)  # visible, not obeyed
            run("demo", "--work-dir", tmp, check=0)  # its own work dir: run again
            # A node's data dir is not the demo's to rewrite: refused, config and identity untouched.
            node = os.path.join(tmp, "node")
            run("--dir", node, "init", "--listen", "/ip4/127.0.0.1/tcp/4999", check=0)
            with open(os.path.join(node, "config.yaml")) as f:
                before = f.read()
            p = run("demo", "--work-dir", node, check=2)
            self.assertIn(f"--work-dir {node} holds a node (config.yaml not written by 'aqua demo')", p.stderr)
            with open(os.path.join(node, "config.yaml")) as f:
                self.assertEqual(f.read(), before)

    def test_demo_runs_the_agent_workflow(self):
        p = run("demo", "--json", check=0)
        out = json.loads(p.stdout.strip().splitlines()[-1])
        names = [a["name"] for a in out["agents"]]
        self.assertEqual(names, ["orchestrator", "research", "news", "data", "writer"])
        self.assertEqual(len({a["peer_id"] for a in out["agents"]}), 5)  # one identity per agent
        replies = [(e["to"], e["from"]) for e in out["events"] if e["kind"] == "reply"]
        for pair in (("you", "orchestrator"), ("orchestrator", "research"), ("research", "news"),
                     ("research", "data"), ("orchestrator", "writer")):
            self.assertIn(pair, replies)
        self.assertIn("Models compared: 18", out["report"])
        self.assertEqual(out["timeouts"], 0)
        # Without --work-dir its files are gone at exit: no paths to them; the orchestrator's answer is JSON.
        self.assertEqual((out["kept"], out["dir"], out["report_path"]), (False, None, None))
        self.assertIsInstance(out["result"], dict)
        self.assertNotIn("path", out["result"])
        self.assertIn("its files are deleted at exit; --work-dir DIR keeps them", run("demo", check=0).stdout)

if __name__ == "__main__":
    AQUA, SRC = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])
