#!/usr/bin/env python3
"""Inject malformed IPv4 datagrams into the TUN from the host side.

An AF_PACKET socket on the TUN hands bytes to the device exactly as given
(a raw IP socket would not: the kernel fixes the header checksum and total
length). Each case is named after the counter the stack must increment.

usage: inject.py IFNAME SRC DST      prints one line per case sent
"""
import socket
import struct
import sys


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_header(src, dst, payload_len, proto=1, ihl=5, version=4, tot_len=None,
              options=b"", fix_csum=True, ttl=64, ident=0x4242):
    tot = tot_len if tot_len is not None else ihl * 4 + payload_len
    h = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, tot, ident, 0, ttl,
                    proto, 0, socket.inet_aton(src), socket.inet_aton(dst)) + options
    if fix_csum:
        c = csum(h)
        h = h[:10] + struct.pack("!H", c) + h[12:]
    return h


def echo_request(ident=0x7777, seq=1, payload=b"malformed-test", bad_csum=False):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
    c = csum(body)
    if bad_csum:
        c ^= 0x5555
    return body[:2] + struct.pack("!H", c) + body[4:]


def cases(src, dst):
    icmp = echo_request()
    good = ip_header(src, dst, len(icmp)) + icmp
    out = []
    # IP-7: header checksum wrong.
    bad = bytearray(good)
    bad[10] ^= 0xFF
    out.append(("ip_in_bad_csum", bytes(bad)))
    # IP-5: total length claims more than was received.
    h = ip_header(src, dst, len(icmp), tot_len=1500)
    out.append(("ip_in_bad_len", h + icmp))
    # IP-2: IHL < 5.
    h = bytearray(ip_header(src, dst, len(icmp)))
    h[0] = 0x44
    h[10:12] = b"\0\0"
    h[10:12] = struct.pack("!H", csum(bytes(h)))
    out.append(("ip_in_bad_ihl", bytes(h) + icmp))
    # IP-1: version 5.
    h = ip_header(src, dst, len(icmp), version=5)
    out.append(("ip_in_bad_version", h + icmp))
    # Truncated: fewer bytes than an IPv4 header.
    out.append(("ip_in_too_short", good[:12]))
    # IP-8: an option whose length is 0 (must not loop).
    opts = bytes([0x44, 0x00, 0x00, 0x00])  # timestamp option, length 0
    h = ip_header(src, dst, len(icmp), ihl=6, options=opts)
    out.append(("ip_in_bad_options", h + icmp))
    # IC-2: ICMP checksum wrong.
    bad_icmp = echo_request(bad_csum=True)
    out.append(("icmp_in_errors", ip_header(src, dst, len(bad_icmp)) + bad_icmp))
    return out


def main(argv):
    if len(argv) != 4:
        print(__doc__)
        return 2
    ifname, src, dst = argv[1:]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((ifname, 0x0800))
    for name, pkt in cases(src, dst):
        s.send(pkt)
        print(f"sent {len(pkt):4d} bytes for {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
