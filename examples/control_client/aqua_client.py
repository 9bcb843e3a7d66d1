#!/usr/bin/env python3
"""A minimal client for the aqua control API (docs/api/control.md).

python3 standard library only. Use it as a module:

    from aqua_client import AquaClient
    with AquaClient.for_data_dir("~/.aqua") as aqua:
        print(aqua.call("status")["peer_id"])
        aqua.call("send", to="bob", text="hello", wait=True)
        for msg in aqua.watch(since=0):
            print(msg["sender"], msg.get("text"))

or from the shell:

    aqua_client.py [--dir DIR] status
    aqua_client.py [--dir DIR] send PEER_OR_ALIAS TEXT [--topic T] [--wait]
    aqua_client.py [--dir DIR] watch [--since SEQ]
    aqua_client.py [--dir DIR] echo-agent [--prefix PREFIX] [--count N]
"""
import argparse
import json
import os
import socket
import sys


class AquaError(Exception):
    """An error answered by the daemon; .code is the stable errc name."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AquaClient:
    def __init__(self, socket_path, timeout=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            if len(os.fsencode(socket_path)) > 107:  # longer than a unix socket address: reach it through its dir
                dir_fd = os.open(os.path.dirname(socket_path) or ".", os.O_PATH)
                try:
                    self.sock.connect(f"/proc/self/fd/{dir_fd}/{os.path.basename(socket_path)}")
                finally:
                    os.close(dir_fd)
            else:
                self.sock.connect(socket_path)
        except (FileNotFoundError, ConnectionRefusedError):
            self.sock.close()
            raise AquaError("not_running", f"no daemon at {socket_path}; start one with 'aqua serve'")
        self.file = self.sock.makefile("rb")
        self.next_id = 1

    @classmethod
    def for_data_dir(cls, data_dir=None, timeout=None):
        data_dir = os.path.expanduser(data_dir or os.environ.get("AQUA_DIR") or "~/.aqua")
        return cls(os.path.join(data_dir, "control.sock"), timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.file.close()
        self.sock.close()

    def _read(self):
        line = self.file.readline()
        if not line:
            raise AquaError("connection_closed", "the daemon closed the connection")
        return json.loads(line)

    def call(self, cmd, **args):
        """Sends one request and returns its result (raises AquaError on failure)."""
        req = {"id": self.next_id, "cmd": cmd, **args}
        self.next_id += 1
        self.sock.sendall((json.dumps(req) + "\n").encode())
        resp = self._read()
        if not resp.get("ok"):
            err = resp.get("error", {})
            raise AquaError(err.get("code", "unknown"), err.get("message", ""))
        return resp.get("result", {})

    def watch(self, since=0):
        """Yields message objects: stored ones after `since`, then new ones as they arrive."""
        self.call("watch", since=since)
        while True:
            ev = self._read()
            if ev.get("ok") is False:
                err = ev.get("error", {})
                raise AquaError(err.get("code", "unknown"), err.get("message", ""))
            if ev.get("event") == "message":
                yield ev["message"]


def main():
    ap = argparse.ArgumentParser(description="aqua control API client (docs/api/control.md)")
    ap.add_argument("--dir", help="data dir of the daemon (default: $AQUA_DIR or ~/.aqua)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status")
    s = sub.add_parser("send")
    s.add_argument("to")
    s.add_argument("text")
    s.add_argument("--topic")
    s.add_argument("--wait", action="store_true")
    w = sub.add_parser("watch")
    w.add_argument("--since", type=int, default=0)
    e = sub.add_parser("echo-agent", help="answer every message with PREFIX + its text (a tiny agent)")
    e.add_argument("--prefix", default="echo: ")
    e.add_argument("--count", type=int, default=0, help="stop after N messages (0 = never)")
    args = ap.parse_args()
    try:
        with AquaClient.for_data_dir(args.dir) as aqua:
            if args.cmd == "status":
                print(json.dumps(aqua.call("status"), indent=2))
            elif args.cmd == "send":
                extra = {"topic": args.topic} if args.topic else {}
                print(json.dumps(aqua.call("send", to=args.to, text=args.text, wait=args.wait, **extra)))
            elif args.cmd == "watch":
                for msg in aqua.watch(args.since):
                    print(json.dumps(msg), flush=True)
            elif args.cmd == "echo-agent":
                # receive hands each message to exactly one caller, marking it read.
                done = 0
                with AquaClient.for_data_dir(args.dir) as sender:
                    while args.count == 0 or done < args.count:
                        try:
                            msg = aqua.call("receive", timeout_ms=1000)
                        except AquaError as err:
                            if err.code == "timeout":
                                continue
                            raise
                        reply = args.prefix + msg.get("text", f"<{len(msg['payload_hex']) // 2} bytes>")
                        sender.call("send", to=msg["sender"], text=reply, topic=msg.get("topic") or "echo")
                        done += 1
                        print(json.dumps({"answered": msg["seq"], "to": msg["sender"]}), flush=True)
    except AquaError as err:
        print(f"aqua_client: error: {err}", file=sys.stderr)
        return 5 if err.code == "not_running" else 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
