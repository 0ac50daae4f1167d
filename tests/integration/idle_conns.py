#!/usr/bin/env python3
"""Hold N idle TCP connections to ADDR:PORT from the kernel, for memory tests.

usage: idle_conns.py ADDR PORT N SRC[,SRC...] [--timeout SECS] [--inflight K]

Opens N connections (at most K handshakes in flight, default 64: all
clients together must stay below the listener's backlog, or its SYN queue
overflows), spreading them over the source addresses given (one address
has about 28,000 ephemeral ports). When all are established
it prints "connected N" and then holds them, idle, until stdin closes or
a line arrives; then it closes them all and prints "closed N". Exits 1 if
they are not all connected within the timeout. Every socket is bounded by
N and the time by the timeout.
"""
import errno
import resource
import selectors
import socket
import sys
import time


def main():
    args = sys.argv[1:]
    timeout, inflight = 120.0, 64
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = float(args[i + 1])
        del args[i:i + 2]
    if "--inflight" in args:
        i = args.index("--inflight")
        inflight = int(args[i + 1])
        del args[i:i + 2]
    addr, port, n, srcs = args[0], int(args[1]), int(args[2]), args[3].split(",")
    want = n + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        if hard < want:
            print(f"fd limit {hard} < {want}: use more client processes", flush=True)
            return 1
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    sel = selectors.DefaultSelector()
    done, pending, started = [], 0, 0
    deadline = time.monotonic() + timeout
    while len(done) < n:
        if time.monotonic() > deadline:
            print(f"timeout: {len(done)} of {n} connected", flush=True)
            return 1
        while pending < inflight and started < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind((srcs[started % len(srcs)], 0))
            rc = s.connect_ex((addr, port))
            if rc not in (0, errno.EINPROGRESS):
                print(f"connect {started}: {errno.errorcode.get(rc, rc)}", flush=True)
                return 1
            sel.register(s, selectors.EVENT_WRITE)
            pending += 1
            started += 1
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                print(f"connect: {errno.errorcode.get(err, err)}", flush=True)
                return 1
            done.append(s)
    print(f"connected {len(done)}", flush=True)
    sys.stdin.readline()
    for s in done:
        s.close()
    print(f"closed {len(done)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
