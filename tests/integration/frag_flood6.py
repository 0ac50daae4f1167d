#!/usr/bin/env python3
"""frag_flood6.py - a bounded flood of lone IPv6 first fragments (IP6-11).

  frag_flood6.py IFNAME SRC DST SECONDS RATE

Writes into the TUN (AF_PACKET, as inject6.py) IPv6 fragments with offset 0
and M set, a fresh identification each, UDP behind them and 1024 bytes of
data: datagrams that never complete. Paced to RATE packets per second and
stopped after SECONDS; prints "sent K fragments in S s". Run it only
inside a test's network namespace.
"""
import socket
import struct
import sys
import time


def main(argv):
    if len(argv) != 6:
        print(__doc__)
        return 2
    ifname, src, dst, secs, rate = argv[1], argv[2], argv[3], float(argv[4]), int(argv[5])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
    s.bind((ifname, 0x86DD))
    hdr = struct.pack("!IHBB16s16s", 6 << 28, 8 + 1024, 44, 64,
                      socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst))
    pay = bytes(1024)
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs:
        for _ in range(100):
            n += 1
            s.send(hdr + struct.pack("!BBHI", 17, 0, 1, n) + pay)
        ahead = n / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    print(f"sent {n} fragments in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
