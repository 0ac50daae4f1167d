#!/usr/bin/env python3
"""conn_load.py - many kernel TCP connections at once, for the listener tests.

Bounded in time (--timeout); prints one line of results for the shell test.

  burst HOST PORT N [--src ADDR]
      N non-blocking connects issued back to back (a burst of SYNs), then
      one byte through each connection to an echo service and back. Prints
      "connected C refused F reset R timeout T echoed E of N"; exit 0.
  hold HOST PORT N SECONDS [--src ADDR]
      open up to N connections one after the other, print
      "opened K refused F reset R timeout T of N" (flushed), keep them open
      for SECONDS, then close them.
"""
import argparse
import errno
import resource
import select
import socket
import sys
import time


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n + 64), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def new_socket(src, host):
    # IPv6 when the destination is an IPv6 address (it has a colon).
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    return s


def classify(err):
    if err == 0:
        return "ok"
    if err == errno.ECONNREFUSED:
        return "refused"
    if err == errno.ECONNRESET:
        return "reset"
    if err in (errno.ETIMEDOUT, errno.EINPROGRESS):
        return "timeout"
    return "other:" + errno.errorcode.get(err, str(err))


def cmd_burst(a):
    raise_nofile(a.n)
    deadline = time.monotonic() + a.timeout
    ep = select.epoll()
    socks = {}
    for _ in range(a.n):
        s = new_socket(a.src, a.host)
        s.setblocking(False)
        rc = s.connect_ex((a.host, a.port))
        if rc not in (0, errno.EINPROGRESS):
            sys.exit(f"connect_ex: {errno.errorcode.get(rc, rc)}")
        socks[s.fileno()] = s
        ep.register(s.fileno(), select.EPOLLOUT)
    result = {}
    while len(result) < a.n and time.monotonic() < deadline:
        for fd, _ in ep.poll(0.5):
            s = socks[fd]
            result[fd] = classify(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
            ep.unregister(fd)
    for fd in socks:
        result.setdefault(fd, "timeout")
    # One byte each way through every connection that opened.
    pending = {}
    for fd, r in result.items():
        if r != "ok":
            continue
        try:
            socks[fd].send(b"x")
            pending[fd] = socks[fd]
            ep.register(fd, select.EPOLLIN)
        except ConnectionResetError:
            result[fd] = "reset"
    echoed = 0
    while pending and time.monotonic() < deadline:
        for fd, _ in ep.poll(0.5):
            s = pending.pop(fd)
            ep.unregister(fd)
            try:
                if s.recv(1) == b"x":
                    echoed += 1
                else:
                    result[fd] = "eof"
            except ConnectionResetError:
                result[fd] = "reset"
    for fd in pending:
        result[fd] = "timeout"
    counts = {}
    for r in result.values():
        counts[r] = counts.get(r, 0) + 1
    for s in socks.values():
        s.close()
    connected = sum(1 for r in result.values() if r in ("ok", "reset", "eof"))
    other = {k: v for k, v in counts.items() if k.startswith("other") or k == "eof"}
    print(f"connected {connected} refused {counts.get('refused', 0)} "
          f"reset {counts.get('reset', 0)} timeout {counts.get('timeout', 0)} "
          f"echoed {echoed} of {a.n}" + (f" {other}" if other else ""), flush=True)


def cmd_hold(a):
    raise_nofile(a.n)
    counts = {"ok": 0, "refused": 0, "reset": 0, "timeout": 0}
    held = []
    for _ in range(a.n):
        s = new_socket(a.src, a.host)
        s.settimeout(min(a.timeout, 10))
        try:
            s.connect((a.host, a.port))
            held.append(s)
            counts["ok"] += 1
        except ConnectionRefusedError:
            counts["refused"] += 1
            s.close()
        except ConnectionResetError:
            counts["reset"] += 1
            s.close()
        except (socket.timeout, TimeoutError):
            counts["timeout"] += 1
            s.close()
    print(f"opened {counts['ok']} refused {counts['refused']} reset {counts['reset']} "
          f"timeout {counts['timeout']} of {a.n}", flush=True)
    time.sleep(min(a.seconds, a.timeout))
    for s in held:
        s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--src", default=None)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("burst")
    b.add_argument("host")
    b.add_argument("port", type=int)
    b.add_argument("n", type=int)
    h = sub.add_parser("hold")
    h.add_argument("host")
    h.add_argument("port", type=int)
    h.add_argument("n", type=int)
    h.add_argument("seconds", type=float)
    a = p.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
