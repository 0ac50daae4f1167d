#!/usr/bin/env python3
"""UDP echo client for the integration tests: sends datagrams of the given
sizes (random bytes) and checks that each echo is byte-identical.

usage: udp_client.py ADDR PORT SIZE...       exit 0 all echoed, 1 otherwise
       udp_client.py --closed ADDR PORT      expect ICMP port unreachable
"""
import os
import socket
import sys


def echo(addr, port, sizes):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    s.connect((addr, port))
    for size in sizes:
        data = os.urandom(size)
        for attempt in range(3):  # UDP: a lost datagram is retried, not fatal
            s.send(data)
            try:
                got = s.recv(65536)
            except socket.timeout:
                continue
            if got != data:
                print(f"size {size}: echo differs ({len(got)} bytes back)")
                return 1
            print(f"size {size}: echoed byte-exact")
            break
        else:
            print(f"size {size}: no echo after 3 tries")
            return 1
    return 0


def closed(addr, port):
    # A connected UDP socket reports the ICMP port unreachable the stack
    # sends back as ECONNREFUSED on the next call.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    s.connect((addr, port))
    s.send(b"anyone there?")
    try:
        s.recv(100)
    except ConnectionRefusedError:
        print(f"port {port}: ICMP port unreachable (ECONNREFUSED)")
        return 0
    except socket.timeout:
        print(f"port {port}: no ICMP error")
        return 1
    print(f"port {port}: got a reply from a closed port")
    return 1


def main(argv):
    if len(argv) >= 4 and argv[1] == "--closed":
        return closed(argv[2], int(argv[3]))
    if len(argv) < 4:
        print(__doc__)
        return 2
    return echo(argv[1], int(argv[2]), [int(x) for x in argv[3:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
