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
import sys
import time

AGENT_TOPIC = "aqua.agent.v1"


class ControlError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


class Control:
    """One connection to the control socket; call() sends a request, returns its result."""

    def __init__(self, path, timeout_s=60):
        self.path, self.timeout_s = path, timeout_s
        self.sock = None
        self.reconnect()

    def reconnect(self):
        """A fresh connection (after the daemon restarted); OSError while nothing listens on the socket."""
        if self.sock is not None:
            self.sock.close()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout_s)
        try:
            self.sock.connect(self.path)
        except OSError:
            self.sock.close()
            self.sock = None
            raise
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
        if self.sock is not None:
            self.sock.close()


def payload_text(msg):
    if "text" in msg:
        return msg["text"]
    return bytes.fromhex(msg.get("payload_hex", "")).decode("utf-8", "replace")


def shown(text):
    """`text` (a peer's choice) for a log line: control characters and non-ASCII escaped."""
    return str(text).encode("unicode_escape").decode("ascii")


def to_stderr(line):
    print(line, file=sys.stderr, flush=True)


class BadFrame(ValueError):
    """An agent message that is not a well-formed agent frame."""


def parse_request(msg):
    """The request frame `msg` carries, or None for another kind of frame; BadFrame says what is wrong."""
    try:
        frame = json.loads(payload_text(msg))
    except ValueError as e:  # not UTF-8 JSON (or not hex)
        raise BadFrame(f"not JSON: {e}") from None
    if not isinstance(frame, dict):
        raise BadFrame(f"a JSON {type(frame).__name__}, not an object")
    if frame.get("aqua_agent") != 1:
        raise BadFrame(f"aqua_agent is {frame.get('aqua_agent')!r}, not 1")
    if frame.get("kind") != "request":
        return None
    for key in ("corr", "type"):
        if not isinstance(frame.get(key), str) or not frame[key]:
            raise BadFrame(f"'{key}' is {frame.get(key)!r}, not a non-empty string")
    for key in ("from", "body"):
        if not isinstance(frame.get(key, ""), str):
            raise BadFrame(f"'{key}' is a {type(frame[key]).__name__}, not a string")
    deadline = frame.get("deadline_ms", 0)
    if isinstance(deadline, bool) or not isinstance(deadline, int) or deadline < 0:
        raise BadFrame(f"'deadline_ms' is {deadline!r}, not a non-negative integer")
    return frame


class Agent:
    """Serves requests: handlers[type](body_text, message) -> (reply_type, reply_body)."""

    def __init__(self, control, name, handlers, log=print, warn=to_stderr):
        self.control = control
        self.name = name
        self.handlers = handlers
        self.log = log
        self.warn = warn  # skipped frames, refused senders, replies that could not be sent
        self.me = control.call("hello")["peer_id"]

    def _send_frame(self, to, frame, ttl_s=60):
        self.control.call("send", to=to, text=json.dumps(frame), topic=AGENT_TOPIC, ttl_s=ttl_s)

    def handle(self, msg):
        """Handles one received message; returns True if it was a request we answered. Malformed frames are
        skipped and requests from senders not in the daemon's contact book refused, both logged to `warn`:
        neither is answered, and neither ends the agent."""
        if msg.get("topic") != AGENT_TOPIC:
            return False
        sender = str(msg.get("sender", "?"))
        # The daemon stores a message from a peer not in its contact book quarantined, trust "unknown"
        # (docs/api/control.md): this agent does no work for strangers.
        if msg.get("quarantined") is not False or msg.get("trust") not in ("verified", "unverified"):
            self.warn(f"{self.name}: refused message {msg.get('seq')} from {sender}: not a contact "
                      f"(trust {msg.get('trust')!r}, quarantined {msg.get('quarantined')!r})")
            return False
        try:
            frame = parse_request(msg)
        except BadFrame as e:
            self.warn(f"{self.name}: skipped malformed agent frame in message {msg.get('seq')} from {sender}: {e}")
            return False
        if frame is None:
            return False
        kind = frame["type"]
        deadline = frame.get("deadline_ms", 0)
        if deadline and time.time() * 1000 > deadline:
            self.log(f"{self.name}: request {kind!r} from {shown(frame.get('from', sender))} is past its deadline; "
                     "dropped")
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
        try:
            self._send_frame(sender, out, ttl_s=ttl)
        except ControlError as e:  # e.g. too large for a frame: the requester times out, the agent serves on
            self.warn(f"{self.name}: cannot answer {kind!r} from {sender}: {e}")
            return False
        self.log(f"{self.name}: {shown(kind)} from {shown(frame.get('from', '?'))} ({sender}) via {msg.get('transport')}, "
                 f"trust {msg.get('trust')} -> {out['kind']} {out.get('type')}")
        return True

    def run(self, max_requests=0, run_for_s=0):
        """Receives and answers until max_requests were served or run_for_s passed (0: forever). A daemon that
        stops (restarts) is waited for and reconnected to, backing off up to 5 s between tries; what it holds
        durably is still there (a message `receive` handed out just before is taken, docs/api/control.md)."""
        served, start = 0, time.time()

        def time_left():
            return not run_for_s or time.time() - start < run_for_s

        while (not max_requests or served < max_requests) and time_left():
            try:
                msg = self.control.call("receive", timeout_ms=1000)
            except ControlError as e:
                if e.code == "timeout":
                    continue
                if e.code != "not_running":
                    raise
                self._wait_for_daemon(time_left, f"the daemon is stopping ({e})")
                continue
            except (ConnectionError, OSError) as e:  # the daemon went away (killed, or stopped meanwhile)
                self._wait_for_daemon(time_left, f"lost the daemon: {e}")
                continue
            if self.handle(msg):
                served += 1
        return served

    def _wait_for_daemon(self, time_left, why):
        self.warn(f"{self.name}: {why}; reconnecting to {self.control.path}")
        pause = 0.1
        while time_left():
            try:
                self.control.reconnect()
                me = self.control.call("hello")["peer_id"]
            except (OSError, ConnectionError, ControlError):
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            if me != self.me:  # another identity behind the socket now: answering in its name would be wrong
                raise ControlError("conflict", f"the daemon at {self.control.path} is now {me}, not {self.me}")
            self.warn(f"{self.name}: reconnected to the daemon")
            return
