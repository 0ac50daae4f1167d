#!/usr/bin/env bash
# SYN flood over IPv6 (docs/HOSTILE.md IP6-20, RFC 4987): tcp_flood6.py
# writes SYNs from random sources of fd00:0:0:ff::/64 into the TUN for a
# bounded time (hping3 has no IPv6). Meanwhile real clients from the
# kernel's fd00::1 connect to the echo service over IPv6 and move data,
# and bursts of 100 simultaneous connects all complete, none reset. The
# counters must show SYN cookies over IPv6 at work and none failing its
# check. The spoofed SYN-ACKs go back into the namespace's kernel, which
# does not forward: nothing leaves the namespace.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin syn_flood6
source "$IT_DIR/tcp_lib.sh"
it_need_ipv6
it_start --tcp-echo 7 --ctl "$IT_WORK/ctl.sock"
ns_wait_addr6 || it_fail "no $US_HOST6 on $US_DEV"
it_peer echo "$US_ADDR6" 7 100000 >/dev/null || it_fail "echo over IPv6 before the flood"

secs=${US_FLOOD_SECONDS:-5}
ns_bg timeout $((secs + 5)) python3 "$IT_DIR/tcp_flood6.py" "$US_DEV" fd00:0:0:ff::/64 "$US_ADDR6" 7 \
  "$secs"
it_clients_during_flood "flood from fd00:0:0:ff::/64" "${NS_PIDS[-1]}" "$US_ADDR6" 7
out=$(it_peer echo "$US_ADDR6" 7 100000) || it_fail "echo after the flood: $out"
it_ok "served after the flood: $out"

it_stop
sent=$(it_counter tcp_syncookies_sent)
[[ $sent -gt 1000 ]] || it_fail "only $sent SYN cookies sent: the flood did not fill the SYN queue"
[[ $(it_counter tcp_syncookies_failed) -eq 0 ]] ||
  it_fail "$(it_counter tcp_syncookies_failed) ACKs failed the cookie check (a client we answered, refused)"
it_ok "counters: SYN queue full for $(it_counter tcp_synq_full) SYNs, cookies sent $sent, validated $(it_counter tcp_syncookies_recv), none failed; IPv6 datagrams in $(it_counter ip6_in_receives)"
it_end
