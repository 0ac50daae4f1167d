#!/usr/bin/env bash
# SYN flood (docs/HOSTILE.md RES-1, RFC 4987, issue 10): hping3 floods the echo
# port with SYNs for a bounded time, first from random spoofed sources,
# then from one address (10.0.0.3, the kernel's second address, which
# answers our SYN-ACKs with RSTs as any host would). It is not the real
# clients' address: hping3 walks every source port, and a forged SYN on
# the 4-tuple of a client whose SYN-cookie handshake has not reached us
# yet (the flood fills the TUN queue) draws a SYN-ACK, whose duplicate ACK
# no cookie can match (docs/LIMITS.md). While each runs, real clients must
# connect and move data with no reset at all (a loop of echo clients, and
# bursts of 100 simultaneous connects), the daemon's memory must stay flat
# (fixed pools), and the counters must show SYN cookies at work, none
# failing its check. The spoofed SYN-ACKs go back into the namespace's
# kernel, which has no route out of it and forwarding off: nothing leaves
# the namespace; the kernel answers those to its own address with RSTs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin syn_flood
source "$IT_DIR/tcp_lib.sh"
command -v hping3 >/dev/null || it_fail "hping3 missing (apt-get install hping3)"
it_start --tcp-echo 7 --ctl "$IT_WORK/ctl.sock"
SRC_B=${US_SRC_B:-10.0.0.3}
ns_exec ip addr add "$SRC_B/$US_PREFIX" dev "$US_DEV" || it_fail "cannot add $SRC_B"

rss() { awk '/^VmRSS/ {print $2}' "/proc/$USTACKD_PID/status"; }
it_peer echo "$US_ADDR" 7 100000 >/dev/null || it_fail "echo before the flood"
rss0=$(rss)

secs=${US_FLOOD_SECONDS:-5}
# flood NAME HPING3-ARGS...: hping3 for $secs seconds while real clients
# work; every client must succeed.
flood() {
  local name=$1
  shift
  ns_bg timeout "$secs" hping3 --flood --syn -p 7 -q "$@" "$US_ADDR"
  it_clients_during_flood "$name" "${NS_PIDS[-1]}" "$US_ADDR" 7
}
flood "flood from random sources" --rand-source
flood "flood from one source ($SRC_B)" -a "$SRC_B"

rss1=$(rss)
# Fixed pools: the flood may touch pages the pools had not touched yet,
# but growth is bounded by the pools, never by the number of SYNs.
[[ $((rss1 - rss0)) -lt 65536 ]] || it_fail "RSS grew from ${rss0} kB to ${rss1} kB"
it_ok "memory flat: RSS ${rss0} kB before, ${rss1} kB after"

out=$(it_peer echo "$US_ADDR" 7 100000) || it_fail "echo after the flood: $out"
it_ok "served after the flood: $out"

it_stop
syns=$(it_counter tcp_passive_opens)
sent=$(it_counter tcp_syncookies_sent)
[[ $sent -gt 0 ]] || it_fail "no SYN cookie was sent (passive opens $syns)"
[[ $(it_counter tcp_syncookies_failed) -eq 0 ]] ||
  it_fail "$(it_counter tcp_syncookies_failed) ACKs failed the cookie check (a client we answered, refused)"
it_ok "counters: SYN queue full for $(it_counter tcp_synq_full) SYNs, cookies sent $sent, validated $(it_counter tcp_syncookies_recv), none failed, $(it_counter tcp_syncookies_unverified) data segments held back for want of the first; passive opens $syns"
it_end
