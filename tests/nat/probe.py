#!/usr/bin/env python3
"""Network probes the NAT test runs inside namespaces (python3 standard library only). One JSON line per event.

  probe.py listen HOST PORT SECONDS      TCP: {"event":"listening"}, then {"event":"accepted","peer":IP,"port":P}
                                         per connection; exits after SECONDS
  probe.py connect HOST PORT SECONDS     TCP connect: {"ok":true,"local":[IP,P]} exit 0, or {"ok":false,"error":..} 1
  probe.py udp-count HOST PORT SECONDS   {"event":"listening"}; counts datagrams until 1 s without any after the
                                         first, or SECONDS; then {"received":N}
  probe.py udp-send HOST PORT N          sends N datagrams (2 ms apart); {"sent":N}
"""
import json
import socket
import sys
import time


def out(obj):
    print(json.dumps(obj), flush=True)


def main():
    mode, host, port, arg = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    if mode == "listen":
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(16)
        out({"event": "listening"})
        deadline = time.monotonic() + arg
        conns = []
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                c, (ip, p) = s.accept()
            except socket.timeout:
                break
            conns.append(c)
            out({"event": "accepted", "peer": ip, "port": p})
        return 0
    if mode == "connect":
        try:
            c = socket.create_connection((host, port), timeout=arg)
            out({"ok": True, "local": list(c.getsockname())})
            c.close()
            return 0
        except OSError as e:
            out({"ok": False, "error": f"{type(e).__name__}: {e}"})
            return 1
    if mode == "udp-count":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, port))
        out({"event": "listening"})
        deadline = time.monotonic() + arg
        n = 0
        while time.monotonic() < deadline:
            s.settimeout(1.0 if n else max(0.05, deadline - time.monotonic()))
            try:
                s.recv(2048)
                n += 1
            except socket.timeout:
                if n:
                    break
        out({"received": n})
        return 0
    if mode == "udp-send":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(int(arg)):
            s.sendto(b"%d" % i, (host, port))
            time.sleep(0.002)
        out({"sent": int(arg)})
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
