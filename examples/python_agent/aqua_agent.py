"""A minimal aqua agent in Python (standard library only).

It speaks for the identity of a running daemon (`aqua serve`) through the
daemon's control API: JSON lines on <data dir>/control.sock (see
framework/src/control/control_handler.cpp for the commands). Agent messages
are the daemon's ordinary end-to-end encrypted messages whose topic is
"aqua.agent.v1" and whose payload is an agent frame (docs/agents.md):

    {"aqua_agent": 1, "kind": "request|reply|error|tell", "corr": "...",
     "type": "...", "from": "...", "deadline_ms": ..., "body": "..."}

The daemon seals and opens every message; this process never sees a key.
"""

import json
import socket
import time

AGENT_TOPIC = "aqua.agent.v1"


class ControlError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


class Control:
    """One connection to the control socket; call() sends a request, returns its result."""

    def __init__(self, path, timeout_s=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout_s)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def call(self, cmd, **args):
        req = dict(args, cmd=cmd, id=self.next_id)
        self.next_id += 1
        self.sock.sendall((json.dumps(req) + "\n").encode())
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("daemon closed the control connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        resp = json.loads(line)
        if not resp.get("ok"):
            err = resp.get("error", {})
            raise ControlError(err.get("code", "unknown"), err.get("message", ""))
        return resp["result"]

    def close(self):
        self.sock.close()


def payload_text(msg):
    if "text" in msg:
        return msg["text"]
    return bytes.fromhex(msg.get("payload_hex", "")).decode("utf-8", "replace")


class Agent:
    """Serves requests: handlers[type](body_text, message) -> (reply_type, reply_body)."""

    def __init__(self, control, name, handlers, log=print):
        self.control = control
        self.name = name
        self.handlers = handlers
        self.log = log
        self.me = control.call("hello")["peer_id"]

    def _send_frame(self, to, frame, ttl_s=60):
        self.control.call("send", to=to, text=json.dumps(frame), topic=AGENT_TOPIC, ttl_s=ttl_s)

    def handle(self, msg):
        """Handles one received message; returns True if it was a request we answered."""
        if msg.get("topic") != AGENT_TOPIC:
            return False
        try:
            frame = json.loads(payload_text(msg))
        except ValueError:
            return False
        if frame.get("aqua_agent") != 1 or frame.get("kind") != "request":
            return False
        sender, kind = msg["sender"], frame.get("type", "")
        deadline = frame.get("deadline_ms", 0)
        if deadline and time.time() * 1000 > deadline:
            self.log(f"{self.name}: request {kind!r} from {frame.get('from', sender)} is past its deadline; dropped")
            return False
        out = {"aqua_agent": 1, "corr": frame["corr"], "from": self.name, "type": kind}
        handler = self.handlers.get(kind)
        if handler is None:
            out.update(kind="error", code="invalid_argument", message=f"{self.name} does not handle {kind!r}")
        else:
            try:
                reply_type, body = handler(frame.get("body", ""), msg)
                out.update(kind="reply", type=reply_type, body=body)
            except Exception as e:  # the requester gets the error, not a timeout
                out.update(kind="error", code="invalid_argument", message=str(e))
        ttl = max(1, int((deadline - time.time() * 1000) / 1000)) if deadline else 60
        self._send_frame(sender, out, ttl_s=ttl)
        self.log(f"{self.name}: {kind} from {frame.get('from', '?')} ({sender}) via {msg.get('transport')}, "
                 f"trust {msg.get('trust')} -> {out['kind']} {out.get('type')}")
        return True

    def run(self, max_requests=0, run_for_s=0):
        """Receives and answers until max_requests were served or run_for_s passed (0: forever)."""
        served, start = 0, time.time()
        while (not max_requests or served < max_requests) and (not run_for_s or time.time() - start < run_for_s):
            try:
                msg = self.control.call("receive", timeout_ms=1000)
            except ControlError as e:
                if e.code == "timeout":
                    continue
                raise
            if self.handle(msg):
                served += 1
        return served
