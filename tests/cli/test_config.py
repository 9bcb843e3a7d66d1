#!/usr/bin/env python3
"""`aqua config check` (and `aqua serve` on the same files) through the real CLI: the file, then every plugin it
names, with every error located as <file>:<line>:<col>: <key path>.

Usage: test_config.py <path to aqua binary> <source dir>
"""
import json
import os
import sys
import tempfile
import unittest

from test_cli import run
import test_cli

SRC = None


class ConfigCheck(unittest.TestCase):
    def test_shipped_example_is_valid(self):
        out = json.loads(run("config", "check", "--json", os.path.join(SRC, "configs/node.example.yaml"), check=0).stdout)
        self.assertTrue(out["ok"])

    def test_bad_config_names_file_line_column_and_path(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("components:\n  relay:\n    serve: maybe\ntransports: []\n")
        try:
            p = run("config", "check", f.name, check=3)
            self.assertIn(f.name + ":3:12: components.relay.serve:", p.stderr)
        finally:
            os.unlink(f.name)

    def test_shipped_configs_and_their_plugins_are_valid(self):
        for name in sorted(os.listdir(os.path.join(SRC, "configs"))):
            if name.endswith(".yaml"):
                out = json.loads(run("config", "check", "--json", os.path.join(SRC, "configs", name), check=0).stdout)
                self.assertTrue(out["plugins_checked"], name)

    def test_plugin_settings_are_checked_and_errors_name_their_line(self):
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            cfg = os.path.join(tmp, "node.yaml")
            base = "components: {}\ntransports:\n  - plugin: zmq\n    settings:\n      hwm: 10\n"
            with open(cfg, "w") as f:
                f.write(base + "      max_connections: lots\n")
            p = run("config", "check", cfg, check=3)
            self.assertIn(cfg + ":6:24: transports[0].settings.max_connections: ", p.stderr)
            self.assertIn("'lots' is not an integer", p.stderr)
            run("config", "check", "--no-plugins", cfg, check=0)  # the file itself is fine
            agents = "agents:\n  - plugin: news\n    settings: {max: 6, maxx: 3}\n"
            with open(cfg, "w") as f:
                f.write(base + agents)
            p = run("config", "check", cfg, check=3)
            self.assertIn(cfg + ":8:30: agents[0].settings.maxx: ", p.stderr)
            self.assertIn("config_unknown_key", p.stderr)
            self.assertIn("unknown setting 'maxx' (news knows headlines, max)", p.stderr)
            # aqua serve refuses the same config before it starts anything ("serving" is never printed)
            run("--dir", tmp, "init", check=0)
            with open(cfg, "w") as f:
                f.write(base + "agents:\n  - plugin: orchestrator\n    settings: {topic: x, run_on_start: yes}\n")
            p = run("--dir", tmp, "serve", "--config", cfg, check=3)
            self.assertIn(cfg + ":8:40: agents[0].settings.run_on_start: ", p.stderr)
            self.assertIn("setting 'run_on_start' must be true or false, got 'yes'", p.stderr)
            self.assertNotIn("serving", p.stdout)
            with open(cfg, "w") as f:
                f.write(base + "agents:\n  - plugin: nosuch\n")
            p = run("config", "check", cfg, check=None)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(cfg + ":7:13: agents[0].plugin: ", p.stderr)
            self.assertIn("plugin_not_found", p.stderr)

    def test_a_listen_address_its_transport_cannot_use_is_refused_where_it_is_written(self):
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            run("--dir", tmp, "init", check=0)
            cfg = os.path.join(tmp, "node.yaml")
            cases = [  # (transport, listen address, what its plugin says)
                ("zmq", "/ip4/127.0.0.1/udp/4001", "zmq transport needs /ip4|ip6|dns*/HOST/tcp/PORT"),
                ("loopback", "/ip4/127.0.0.1/tcp/4001", "loopback transport only handles /memory/<name> addresses"),
                ("relay_v2", "/ip4/127.0.0.1/tcp/4001", "relay_v2 listens on /ip4/A/tcp/P/p2p/RELAY/p2p-circuit"),
            ]
            for plugin, address, why in cases:
                with open(cfg, "w") as f:
                    f.write("components: {}\ntransports:\n  - plugin: loopback\n    listen: [/memory/fine]\n"
                            f"  - plugin: {plugin}\n    name: second\n    listen:\n      - {address}\n")
                at = f"{cfg}:8:9: transports[1].listen[0]: "
                p = run("config", "check", cfg, check=3)
                self.assertIn(at, p.stderr)
                self.assertIn("config_bad_address", p.stderr)
                self.assertIn(why, p.stderr)
                self.assertIn(address, p.stderr)
                run("config", "check", "--no-plugins", cfg, check=0)  # any multiaddr passes the file check
                # aqua serve refuses it the same way, before it starts anything
                p = run("--dir", tmp, "serve", "--config", cfg, check=3)
                self.assertIn(at, p.stderr)
                self.assertNotIn("serving", p.stdout)

    def test_relay_addresses_serve_could_not_use_are_refused_where_they_are_written(self):
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            run("--dir", tmp, "init", check=0)
            relay = "/ip4/127.0.0.1/tcp/4001/p2p/" + json.loads(run("--dir", tmp, "id", "--json", check=0).stdout)["peer_id"]
            cfg = os.path.join(tmp, "node.yaml")
            cases = [  # (listen, relays setting, where, what the plugin says)
                ("/p2p-circuit", "garbage", "5:24: transports[0].settings.relays",
                 "relay address must be /ip4/A/tcp/P/p2p/ID, got garbage"),
                ("/p2p-circuit", "/ip4/127.0.0.1/tcp/4001", "5:24: transports[0].settings.relays",
                 "got /ip4/127.0.0.1/tcp/4001"),
                ("/p2p-circuit", "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWbad", "5:24: transports[0].settings.relays",
                 "peer ID '12D3KooWbad'"),
                ("/p2p-circuit", None, "4:14: transports[0].listen[0]",
                 "/p2p-circuit reserves on the relays of the relays setting, and there are none"),
                ("/p2p-circuit", '""', "4:14: transports[0].listen[0]", "and there are none"),
                ("/ip4/127.0.0.1/tcp/4001/p2p-circuit", None, "4:14: transports[0].listen[0]",
                 "relay address must be /ip4/A/tcp/P/p2p/ID, got /ip4/127.0.0.1/tcp/4001"),
            ]
            for listen, relays, where, why in cases:
                with open(cfg, "w") as f:
                    f.write("components: {}\ntransports:\n  - plugin: relay_v2\n"
                            f"    listen: [{listen}]\n    settings: {{{'relays: ' + relays if relays else 'queue_bytes: 8388608'}}}\n")
                p = run("config", "check", cfg, check=3)
                self.assertIn(f"{cfg}:{where}: ", p.stderr, (listen, relays))
                self.assertIn(why, p.stderr, (listen, relays))
                # serve refuses it the same way (exit 3, not a key or network error), before it starts anything
                p = run("--dir", tmp, "serve", "--config", cfg, check=3)
                self.assertIn(f"{cfg}:{where}: ", p.stderr, (listen, relays))
            with open(cfg, "w") as f:
                f.write(f"components: {{}}\ntransports:\n  - plugin: relay_v2\n    listen: [{relay}/p2p-circuit]\n")
            run("config", "check", cfg, check=0)  # a named relay needs no relays setting

    def test_an_address_listed_twice_is_refused_where_it_is_repeated(self):
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            run("--dir", tmp, "init", check=0)
            cfg = os.path.join(tmp, "node.yaml")
            cases = [  # (yaml, where the repeat is, where the first one is)
                ("transports:\n  - plugin: zmq\n    listen: [/ip4/127.0.0.1/tcp/4001, /ip4/127.0.0.1/tcp/4001]\n"
                 "components: {}\n", "3:39: transports[0].listen[1]", "transports[0].listen[0]"),
                ("transports:\n  - plugin: zmq\n    listen: [/ip4/127.0.0.1/tcp/4001]\n  - plugin: zmq\n    name: b\n"
                 "    listen: [/ip4/127.0.0.1/tcp/4001]\ncomponents: {}\n", "6:14: transports[1].listen[0]",
                 "transports[0].listen[0]"),
                ("transports:\n  - plugin: zmq\n    listen: [/ip4/127.0.0.1/tcp/4001]\n"
                 "components:\n  relay: {serve: true, listen: [/ip4/127.0.0.1/tcp/4001]}\n",
                 "5:33: components.relay.listen[0]", "transports[0].listen[0]"),
                # Agents bind in the daemon's process too: serve said "serving" first, then address_in_use.
                ("transports:\n  - plugin: zmq\n    listen: [/ip4/127.0.0.1/tcp/4001]\ncomponents: {}\n"
                 "agents:\n  - plugin: news\n    listen: [/ip4/127.0.0.1/tcp/4001]\n",
                 "7:14: agents[0].listen[0]", "transports[0].listen[0]"),
                ("transports: []\ncomponents: {}\nagents:\n  - plugin: news\n    listen: [/ip4/127.0.0.1/tcp/4001]\n"
                 "  - plugin: data\n    listen: [/ip4/127.0.0.1/tcp/4001]\n",
                 "7:14: agents[1].listen[0]", "agents[0].listen[0]"),
            ]
            for yaml, where, first in cases:
                with open(cfg, "w") as f:
                    f.write(yaml)
                p = run("config", "check", cfg, check=3)
                self.assertIn(f"{cfg}:{where}: '/ip4/127.0.0.1/tcp/4001' is listed twice (also at {first})", p.stderr)
            # The same binding spelled otherwise: leading zeros, a /p2p/ suffix, 0.0.0.0 beside one address.
            me = json.loads(run("--dir", tmp, "id", "--json", check=0).stdout)["peer_id"]
            for second, why in (("/ip4/127.0.0.1/tcp/04001", "is listed twice"),
                                (f"/ip4/127.0.0.1/tcp/4001/p2p/{me}", "is listed twice"),
                                ("/ip4/0.0.0.0/tcp/4001", "binds port 4001 where 0.0.0.0 takes it on every address")):
                with open(cfg, "w") as f:
                    f.write(f"transports:\n  - plugin: zmq\n    listen: [/ip4/127.0.0.1/tcp/4001]\ncomponents: {{}}\n"
                            f"agents:\n  - plugin: news\n    listen: [{second}]\n")
                p = run("config", "check", "--no-plugins", cfg, check=3)
                self.assertIn(f"agents[0].listen[0]: '{second}' {why} (also at transports[0].listen[0])", p.stderr)
            with open(cfg, "w") as f:  # two addresses, one port: two bindings
                f.write("transports:\n  - plugin: zmq\n    listen: [/ip4/127.0.0.1/tcp/4001, /ip4/127.0.0.2/tcp/4001]\n"
                        "components: {}\n")
            run("config", "check", "--no-plugins", cfg, check=0)
            # Port 0 (any free port) twice binds two ports: fine.
            with open(cfg, "w") as f:
                f.write("transports:\n  - plugin: zmq\n    listen: [/ip4/127.0.0.1/tcp/0, /ip4/127.0.0.1/tcp/0]\n"
                        "components: {}\n")
            run("config", "check", cfg, check=0)
            p = run("--dir", tmp, "relay", "serve", "--listen", "/ip4/127.0.0.1/tcp/4001", "--listen",
                    "/ip4/127.0.0.1/tcp/4001", check=2)
            self.assertIn("--listen '/ip4/127.0.0.1/tcp/4001' is given twice", p.stderr)

    def test_an_agent_listen_address_zmq_cannot_use_is_refused_where_it_is_written(self):
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            run("--dir", tmp, "init", check=0)
            cfg = os.path.join(tmp, "node.yaml")
            with open(cfg, "w") as f:
                f.write("components: {}\ntransports:\n  - plugin: loopback\n    listen: [/memory/fine]\n"
                        "agents:\n  - plugin: news\n    listen:\n      - /ip4/127.0.0.1/tcp/0\n"
                        "      - /ip4/127.0.0.1/udp/4001\n")
            p = run("config", "check", cfg, check=3)
            self.assertIn(f"{cfg}:9:9: agents[0].listen[1]: ", p.stderr)
            self.assertIn("zmq transport needs /ip4|ip6|dns*/HOST/tcp/PORT", p.stderr)
            self.assertIn("/ip4/127.0.0.1/udp/4001", p.stderr)
            run("config", "check", "--no-plugins", cfg, check=0)

    def test_a_config_others_may_change_or_own_is_refused(self):
        # It names the key file and the plugins (code) a node loads.
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            run("--dir", tmp, "init", check=0)
            cfg = os.path.join(tmp, "config.yaml")
            for mode in (0o666, 0o620):
                os.chmod(cfg, mode)
                for args in (("config", "check", cfg), ("--dir", tmp, "serve")):
                    p = run(*args, check=4)
                    self.assertIn(f"insecure_permissions: config '{cfg}' may be changed by other users (mode "
                                  f"{mode:04o}), and it names the key file and the plugins a node loads: "
                                  f"'chmod go-w {cfg}'", p.stderr)
            os.chmod(cfg, 0o644)
            run("config", "check", cfg, check=0)
            if os.geteuid() == 0:  # another user's config or key file (root may give them away): refused too
                for f in (cfg, os.path.join(tmp, "identity.key")):
                    os.chown(f, 65534, -1)
                    p = run("--dir", tmp, "id", check=4)
                    self.assertIn(f"'{f}' belongs to uid 65534, not to this user (uid 0) or root", p.stderr)
                    os.chown(f, 0, -1)
                run("--dir", tmp, "id", check=0)

    def test_a_data_dir_that_is_a_file_is_refused_where_it_is_written(self):
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            cfg, plain = os.path.join(tmp, "node.yaml"), os.path.join(tmp, "plain")
            open(plain, "w").close()
            with open(cfg, "w") as f:
                f.write(f"node: {{data_dir: {plain}}}\ncomponents: {{}}\ntransports: []\n")
            for args in (("config", "check", cfg), ("serve", "--config", cfg)):
                p = run(*args, check=3)  # a config error (it said io_error ... Not a directory, exit 1)
                self.assertIn(f"{cfg}:1:18: node.data_dir: '{plain}' is not a directory", p.stderr)

    def test_missing_file(self):
        p = run("config", "check", "/nonexistent/aqua.yaml", check=3)
        self.assertIn("cannot open config '/nonexistent/aqua.yaml': No such file or directory", p.stderr)
        self.assertIn("config_unreadable", p.stderr)
        with tempfile.TemporaryDirectory(prefix="aqua-cli-") as tmp:
            p = run("config", "check", tmp, check=3)
            self.assertIn("is a directory", p.stderr)
            p = run("--dir", tmp, "config", "check", check=4)  # no file named: the data dir's, and nothing there yet
            self.assertIn(f"run 'aqua --dir {tmp} init' first", p.stderr)
            p = run("--dir", tmp, "serve", check=4)  # nothing there yet
            self.assertIn(f"run 'aqua --dir {tmp} init' first", p.stderr)
            # A config without its key: the hint names the config's data dir (a bare 'aqua init' would make ~/.aqua).
            keyless = os.path.join(tmp, "keyless")
            os.makedirs(keyless, mode=0o700)
            with open(os.path.join(keyless, "node.yaml"), "w") as f:
                f.write("components: {}\ntransports: []\n")
            p = run("serve", "--config", os.path.join(keyless, "node.yaml"), check=4)
            self.assertIn(f"run 'aqua --dir {keyless} init' first", p.stderr)
            self.assertIn(f"no secret key at '{keyless}/identity.key'", p.stderr)
            p = run("--dir", tmp, "status", check=5)  # the hint to start a daemon starts with init here
            self.assertIn(f"run 'aqua --dir {tmp} init', then start one with 'aqua --dir {tmp} serve'", p.stdout)
            agent = os.path.join(tmp, "agent")
            run("--dir", agent, "init", check=0)
            out = json.loads(run("--dir", agent, "config", "check", "--json", check=0).stdout)  # the one init wrote
            self.assertEqual(out["file"], os.path.join(agent, "config.yaml"))
            self.assertTrue(out["plugins_checked"])
            os.unlink(os.path.join(agent, "config.yaml"))
            other = os.path.join(tmp, "other")
            run("--dir", other, "init", check=0)
            p = run("--dir", agent, "serve", "--config", os.path.join(other, "config.yaml"), check=2)  # not silently
            self.assertIn(f"--dir '{agent}' and --config '{os.path.join(other, 'config.yaml')}' name different data dirs",
                          p.stderr)
            p = run("--dir", agent, "serve", check=3)  # an identity without its config: the config is the problem
            self.assertIn("config_unreadable", p.stderr)
            p = run("--dir", agent, "config", "check", check=3)
            self.assertIn("config_unreadable", p.stderr)


if __name__ == "__main__":
    test_cli.AQUA, test_cli.SRC = sys.argv[1], sys.argv[2]
    SRC = test_cli.SRC
    unittest.main(argv=[sys.argv[0], "-v"])
