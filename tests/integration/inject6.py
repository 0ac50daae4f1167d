#!/usr/bin/env python3
"""Inject hostile IPv6 datagrams into the TUN and read the ICMPv6 answers.

An AF_PACKET socket on the TUN hands bytes to the device exactly as given;
a raw ICMPv6 socket sees the errors the stack sends back (the kernel
passes copies of ICMPv6 errors to raw sockets). Each case is named after
the counter the stack must increment and says which parameter problem
(type 4, code, pointer; RFC 4443 3.4) must come back, or none.

usage: inject6.py IFNAME SRC DST    one line per case; exit 1 on a wrong answer
"""
import select
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


def ip6(src, dst, nh, payload, plen=None):
    n = len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", 6 << 28, n, nh, 64, src, dst) + payload


def echo(src, dst, ident, data=b"hostile-ipv6-case", bad=False):
    body = struct.pack("!BBHHH", 128, 0, 0, ident, 1) + data
    pseudo = src + dst + struct.pack("!IxxxB", len(body), 58)
    c = csum(pseudo + body) ^ (0x5555 if bad else 0)
    return body[:2] + struct.pack("!H", c) + body[4:]


def udp(src, dst, sport, dport, data):
    h = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = csum(src + dst + struct.pack("!IxxxB", len(h), 17) + h) or 0xFFFF
    return h[:6] + struct.pack("!H", c) + h[8:]


def tcp_syn(src, dst, sport, dport, data=bytes(32)):
    h = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0) + data
    c = csum(src + dst + struct.pack("!IxxxB", len(h), 6) + h)
    return h[:16] + struct.pack("!H", c) + h[18:]


def frag(nh, off, mf, ident):
    return struct.pack("!BBHI", nh, 0, off | (1 if mf else 0), ident)


def cases(src, dst):
    """(counter, datagrams, expected (code, pointer) or None)."""
    e = echo(src, dst, 0x6001)
    out = []
    # IP6-5: routing type 0 with a segment left (RFC 5095).
    rh0 = struct.pack("!BBBB4x", 58, 2, 0, 1) + bytes(16)
    out.append(("ip6_in_rh0", [ip6(src, dst, 43, rh0 + e)], (0, 42)))
    # IP-11's IPv6 twin: an unknown next header (253, experimental).
    out.append(("ip6_in_unknown_protos", [ip6(src, dst, 253, bytes(16))], (1, 6)))
    # IP6-4: an unknown option of action 10 in destination options.
    opts = struct.pack("!BBBBBBBB", 58, 0, 0x9E, 2, 0, 0, 1, 0)
    out.append(("ip6_in_unknown_option", [ip6(src, dst, 60, opts + echo(src, dst, 0x6002))],
                (2, 42)))
    # IP6-6: a first fragment whose UDP header is in the next fragment.
    dopt = struct.pack("!BB6x", 17, 0)
    out.append(("ip6_in_frag_incomplete", [ip6(src, dst, 44, frag(60, 0, True, 0x61) + dopt)],
                (3, 0)))
    # IP6-8: M set and 12 bytes of data.
    out.append(("ip6_in_frag_bad", [ip6(src, dst, 44, frag(58, 0, True, 0x62) + e[:12])], (0, 4)))
    # IP6-7: overlapping fragments of an echo request: never answered.
    big = echo(src, dst, 0x6003, data=bytes(200))
    out.append(("ip6_reasm_overlap", [ip6(src, dst, 44, frag(58, 0, True, 0x63) + big[:104]),
                                      ip6(src, dst, 44, frag(58, 96, False, 0x63) + big[96:])],
                None))
    # IP6-2: a jumbogram (payload length 0, Jumbo Payload option).
    jumbo = struct.pack("!BBBBI", 58, 0, 0xC2, 4, 70000)
    out.append(("ip6_in_jumbo", [ip6(src, dst, 0, jumbo + e, plen=0)], None))
    # IP6-10: a bad ICMPv6 checksum.
    out.append(("icmp6_in_errors", [ip6(src, dst, 58, echo(src, dst, 0x6004, bad=True))], None))
    # IP6-13: a SYN cut inside its TCP header (RFC 7112): the first
    # fragment is refused, the second alone never completes.
    syn = tcp_syn(src, dst, 40001, 7)
    out.append(("ip6_in_frag_incomplete", [ip6(src, dst, 44, frag(6, 0, True, 0x65) + syn[:8]),
                                           ip6(src, dst, 44, frag(6, 8, False, 0x65) + syn[8:])],
                (3, 0)))
    # IP6-13: a whole SYN header, then a fragment at offset 8 that makes
    # its flags SYN+FIN (RFC 1858 3): the overlap drops the datagram.
    rw = bytearray(syn)
    rw[13] = 0x03
    out.append(("ip6_reasm_overlap", [ip6(src, dst, 44, frag(6, 0, True, 0x66) + syn[:32]),
                                      ip6(src, dst, 44, frag(6, 8, False, 0x66) + bytes(rw[8:]))],
                None))
    # RFC 4443 3.1: UDP to a closed port is answered with port unreachable
    # once UDP takes IPv6; until then it is only counted (not checked here).
    return out


def read_answers(r, wait):
    got = []
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([r], [], [], left)[0]:
            return got
        msg = r.recv(2048)
        if msg[0] < 128:  # errors only; the echo replies are not ours to judge
            got.append((msg[0], msg[1], struct.unpack("!I", msg[4:8])[0]))


def main(argv):
    if len(argv) != 4:
        print(__doc__)
        return 2
    ifname, src_s, dst_s = argv[1:]
    src = socket.inet_pton(socket.AF_INET6, src_s)
    dst = socket.inet_pton(socket.AF_INET6, dst_s)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
    s.bind((ifname, 0x86DD))
    r = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    bad = 0
    for name, pkts, want in cases(src, dst):
        read_answers(r, 0.05)  # drain
        for p in pkts:
            s.send(p)
        got = read_answers(r, 1.0)
        want_list = [(4, want[0], want[1])] if want else []
        ok = got == want_list
        bad += 0 if ok else 1
        print(f"{'ok ' if ok else 'BAD'} {name}: sent {len(pkts)}, answers {got}, want {want_list}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
