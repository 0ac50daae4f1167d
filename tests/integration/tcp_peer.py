#!/usr/bin/env python3
"""tcp_peer.py - the Linux kernel's side of the TCP integration tests.

Every subcommand is bounded in time (--timeout) and prints one line of
results that the shell test checks. Exit status 0 means the check held.

  send HOST PORT FILE        connect, send FILE, half-close, wait for EOF;
                             prints "sent N sha256 HEX"
  recv HOST PORT OUT         connect, read to EOF into OUT;
                             prints "received N sha256 HEX"
  echo HOST PORT N           send N seeded bytes, read them back, compare
  conns HOST PORT N SIZE     N connections open at once, each echoes SIZE
                             bytes; all must come back intact
  refused HOST PORT          connect must fail with ECONNREFUSED
  hold HOST PORT SECONDS     connect and wait for the peer (expect a RST or EOF);
                             prints "reset" or "eof" or "timeout"
  serve ADDR PORT            accept one connection, read to EOF, print
                             "server received N sha256 HEX", close
"""
import argparse
import hashlib
import os
import selectors
import socket
import sys
import time


def connect(host, port, timeout):
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def cmd_send(a):
    h = hashlib.sha256()
    n = 0
    with connect(a.host, a.port, a.timeout) as s, open(a.file, "rb") as f:
        while True:
            chunk = f.read(1 << 16)
            if not chunk:
                break
            s.sendall(chunk)
            h.update(chunk)
            n += len(chunk)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    print(f"sent {n} sha256 {h.hexdigest()}")


def cmd_recv(a):
    h = hashlib.sha256()
    n = 0
    with connect(a.host, a.port, a.timeout) as s, open(a.out, "wb") as f:
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            f.write(chunk)
            h.update(chunk)
            n += len(chunk)
    print(f"received {n} sha256 {h.hexdigest()}")


def pattern(n, salt=0):
    return bytes((i * 7 + salt + (i >> 8)) & 0xFF for i in range(n))


def cmd_echo(a):
    data = os.urandom(a.n)
    got = bytearray()
    with connect(a.host, a.port, a.timeout) as s:
        s.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        off = 0
        deadline = time.monotonic() + a.timeout
        while len(got) < len(data):
            if time.monotonic() > deadline:
                sys.exit(f"echo: timeout with {len(got)}/{len(data)} bytes back")
            for key, ev in sel.select(1.0):
                if ev & selectors.EVENT_WRITE and off < len(data):
                    try:
                        off += s.send(data[off:off + 65536])
                    except BlockingIOError:
                        pass
                    if off == len(data):
                        sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    chunk = s.recv(65536)
                    if not chunk:
                        sys.exit(f"echo: EOF after {len(got)} bytes")
                    got += chunk
    if bytes(got) != data:
        bad = next(i for i in range(len(data)) if got[i] != data[i])
        sys.exit(f"echo: first difference at byte {bad}")
    print(f"echoed {len(data)} bytes intact")


def cmd_conns(a):
    socks = []
    for i in range(a.n):
        socks.append(connect(a.host, a.port, a.timeout))
    # every connection is open at once before any data moves
    for i, s in enumerate(socks):
        s.sendall(pattern(a.size, i))
    ok = 0
    for i, s in enumerate(socks):
        got = bytearray()
        while len(got) < a.size:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        if bytes(got) == pattern(a.size, i):
            ok += 1
        s.close()
    print(f"{ok}/{a.n} connections echoed {a.size} bytes intact")
    if ok != a.n:
        sys.exit(1)


def cmd_refused(a):
    try:
        connect(a.host, a.port, a.timeout).close()
    except ConnectionRefusedError:
        print("connection refused")
        return
    except OSError as e:
        sys.exit(f"expected ECONNREFUSED, got {e!r}")
    sys.exit("expected ECONNREFUSED, but the connection was accepted")


def cmd_hold(a):
    s = connect(a.host, a.port, a.timeout)
    s.settimeout(a.seconds)
    try:
        data = s.recv(1)
        print("eof" if not data else "data")
    except ConnectionResetError:
        print("reset")
    except socket.timeout:
        print("timeout")


def cmd_serve(a):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.addr, a.port))
    ls.listen(1)
    ls.settimeout(a.timeout)
    print("listening", flush=True)
    c, peer = ls.accept()
    c.settimeout(a.timeout)
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    c.close()
    ls.close()
    print(f"server received {n} sha256 {h.hexdigest()} from {peer[0]}:{peer[1]}", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--timeout", type=float, default=60)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, args in [("send", ["host", "port:int", "file"]), ("recv", ["host", "port:int", "out"]),
                       ("echo", ["host", "port:int", "n:int"]),
                       ("conns", ["host", "port:int", "n:int", "size:int"]),
                       ("refused", ["host", "port:int"]),
                       ("hold", ["host", "port:int", "seconds:float"]),
                       ("serve", ["addr", "port:int"])]:
        sp = sub.add_parser(name)
        for arg in args:
            nm, _, ty = arg.partition(":")
            sp.add_argument(nm, type={"int": int, "float": float}.get(ty, str))
    a = p.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
