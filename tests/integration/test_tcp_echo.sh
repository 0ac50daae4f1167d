#!/usr/bin/env bash
# TCP echo (RFC 862) with the Linux kernel as the client: nc, then 1 MB of
# random bytes through a non-blocking client that checks every byte, then
# ustack-ss showing the listener and counters.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tcp_echo
source "$IT_DIR/tcp_lib.sh"
it_start --tcp-echo 7 --tcp-discard 9 --tcp-chargen 19 --ctl "$IT_WORK/ctl.sock"

msg="hello over ustack tcp $$"
got=$(printf '%s\n' "$msg" | ns_exec timeout 10 nc -N -w 5 "$US_ADDR" 7 || true)
[[ $got == "$msg" ]] || it_fail "nc echo: sent '$msg', got '$got'"
it_ok "nc: '$msg' came back"

it_peer echo "$US_ADDR" 7 1000000 || it_fail "1 MB echo"
it_ok "1 MB echoed byte-exact"

head -c 200000 /dev/urandom | ns_exec timeout 20 nc -N -w 5 "$US_ADDR" 9 >/dev/null ||
  it_fail "discard"
it_ok "discard took 200000 bytes"

cg=$(ns_exec timeout 10 nc -w 2 -d "$US_ADDR" 19 </dev/null | head -c 148 || true)
line1=$(printf '%s' "$cg" | head -n 1 | tr -d '\r')
[[ $line1 == ' !"#$%&'"'"'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefg' ]] ||
  it_fail "chargen first line: '$line1'"
it_ok "chargen sends the RFC 864 pattern"

# Past the first period (95 lines of 74 bytes) and several send buffers:
# 300000 bytes equal to the RFC 864 stream made independently here.
ns_exec timeout 20 nc -w 2 -d "$US_ADDR" 19 </dev/null 2>/dev/null | head -c 300000 >"$IT_WORK/cg.bin" || true
python3 -c '
import sys
want = bytearray()
line = 0
while len(want) < 300000:
    want += bytes(32 + (line + i) % 95 for i in range(72)) + b"\r\n"
    line += 1
got = open(sys.argv[1], "rb").read()
sys.exit(0 if got == bytes(want[:300000]) else 1)' "$IT_WORK/cg.bin" ||
  it_fail "chargen: the first 300000 bytes differ from RFC 864's pattern ($(wc -c <"$IT_WORK/cg.bin") bytes read)"
it_ok "chargen: 300000 bytes equal to the RFC 864 pattern"

ss_out=$(it_ss) || it_fail "ustack-ss failed"
grep -qE '^LISTEN .*\*:7 ' <<<"$ss_out" || it_fail "ustack-ss shows no listener on 7: $ss_out"
it_ok "ustack-ss lists the listeners"
stats=$(it_ss -s) || it_fail "ustack-ss -s failed"
grep -qE '^tcp_passive_opens +[1-9]' <<<"$stats" || it_fail "no PassiveOpens in: $stats"
it_ok "ustack-ss -s shows tcp_passive_opens (PassiveOpens)"

it_stop
it_end
