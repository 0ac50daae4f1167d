#!/usr/bin/env bash
# The UDP echo service (--udp-echo) through the public socket API: nc -u
# from the namespace, then a client that checks every byte for sizes from
# 1 byte to the largest UDP payload (65507, fragmented both ways), then a
# closed port answered with ICMP port unreachable.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin udp_echo
it_start --udp-echo 7

msg="hello ustack $$"
got=$(printf '%s\n' "$msg" | ns_exec timeout 10 nc -u -w1 "$US_ADDR" 7 || true)
[[ $got == "$msg" ]] || it_fail "nc -u: sent '$msg', got '$got'"
it_ok "nc -u: '$msg' came back"

ns_exec timeout 60 python3 "$IT_DIR/udp_client.py" "$US_ADDR" 7 \
  1 2 100 1472 1473 3000 8192 65507 || it_fail "byte-exact echo"
it_ok "byte-exact echoes of 1..65507 bytes"

ns_exec timeout 10 python3 "$IT_DIR/udp_client.py" --closed "$US_ADDR" 9 ||
  it_fail "closed port"
it_ok "closed port answered with ICMP port unreachable"

it_stop
[[ $(it_counter udp_in_datagrams) -ge 9 ]] || it_fail "udp_in_datagrams < 9"
[[ $(it_counter udp_out_datagrams) -ge 9 ]] || it_fail "udp_out_datagrams < 9"
[[ $(it_counter udp_no_ports) -ge 1 ]] || it_fail "udp_no_ports = 0"
it_ok "counters: udp_in_datagrams=$(it_counter udp_in_datagrams) udp_no_ports=$(it_counter udp_no_ports)"
it_end
