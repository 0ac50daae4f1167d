#!/usr/bin/env python3
"""Open N TCP connections to ADDR:PORT (about RATE a second) and hold them
silent for SECS seconds: a TLS server sees connections that never send a
ClientHello. Prints how many were still open at the end (not reset or
closed by the server).

usage: hold_conns.py ADDR PORT N RATE SECS
"""
import socket
import sys
import time


def main():
    addr, port, n, rate, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        float(sys.argv[4]), float(sys.argv[5])
    end = time.time() + secs
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((addr, port))
        except BlockingIOError:
            pass
        socks.append(s)
        time.sleep(1.0 / rate)
    while time.time() < end:
        time.sleep(0.2)
    still = 0
    for s in socks:
        try:
            if s.recv(1):
                still += 1
        except BlockingIOError:
            still += 1
        except OSError:
            pass
        s.close()
    print(f"held {n} silent connections for {secs:.0f} s; still open at the end: {still}")


if __name__ == "__main__":
    main()
