#!/usr/bin/env python3
"""Flood an IPv6 address with TCP segments written into the TUN.

Written with an AF_PACKET socket (the kernel hands the bytes to the device
as they are), so the stack sees segments from whatever source is given:
with a /64 prefix, a random address of it each time (nobody owns them; the
stack's answers go back into the TUN, to the namespace's kernel, which
does not forward and drops them); with a single address, that one. Bounded
by SECS; prints how many it sent.

usage: tcp_flood6.py IFNAME SRC DST PORT SECS [FLAGS]
       SRC: PREFIX/64 (random sources in it) or one address
       FLAGS: syn (default) or ack
"""
import os
import random
import socket
import struct
import sys
import time

FLAGS = {"syn": 0x02, "ack": 0x10}


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    ifname, src_s, dst_s, port, secs = sys.argv[1:6]
    flags = FLAGS[sys.argv[6] if len(sys.argv) > 6 else "syn"]
    dst = socket.inet_pton(socket.AF_INET6, dst_s)
    random_src = src_s.endswith("/64")
    src = socket.inet_pton(socket.AF_INET6, src_s.split("/")[0])
    port, secs = int(port), float(secs)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
    s.bind((ifname, 0x86DD))
    sent, end = 0, time.monotonic() + secs
    while time.monotonic() < end:
        if random_src:
            src = src[:8] + os.urandom(8)
        ack = random.getrandbits(32) if flags & 0x10 else 0
        tcp = struct.pack("!HHIIBBHHH", random.randint(1024, 65535), port,
                          random.getrandbits(32), ack, 5 << 4, flags, 65535, 0, 0)
        pseudo = src + dst + struct.pack("!I3xB", len(tcp), 6)
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        ip6 = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + src + dst
        try:
            s.sendto(ip6 + tcp, (ifname, 0x86DD))
            sent += 1
        except OSError:  # the TUN's queue is full: let the stack catch up
            time.sleep(0.0005)
    print(f"sent {sent}")


if __name__ == "__main__":
    main()
