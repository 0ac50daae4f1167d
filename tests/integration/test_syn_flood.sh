#!/usr/bin/env bash
# SYN flood (HOSTILE.md RES-1, RFC 4987): hping3 floods the echo port with
# SYNs from random spoofed sources for a bounded time. While it runs, a
# real client must still connect and move data, the daemon's memory must
# stay flat (fixed pools), and the counters must show SYN cookies at work.
# The spoofed SYN-ACKs go back into the namespace's kernel, which has no
# route out of it and forwarding off: nothing leaves the namespace.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin syn_flood
source "$IT_DIR/tcp_lib.sh"
command -v hping3 >/dev/null || it_fail "hping3 missing (apt-get install hping3)"
it_start --tcp-echo 7 --ctl "$IT_WORK/ctl.sock"

rss() { awk '/^VmRSS/ {print $2}' "/proc/$USTACKD_PID/status"; }
it_peer echo "$US_ADDR" 7 100000 >/dev/null || it_fail "echo before the flood"
rss0=$(rss)

secs=${US_FLOOD_SECONDS:-8}
ns_bg timeout "$secs" hping3 --flood --syn --rand-source -p 7 -q "$US_ADDR"
sleep 1
ok=0
for i in 1 2 3 4 5; do
  if out=$(it_peer --timeout 10 echo "$US_ADDR" 7 200000); then
    ok=$((ok + 1))
  else
    echo "    client $i during the flood: $out"
  fi
done
wait "${NS_PIDS[-1]}" 2>/dev/null || true
[[ $ok -ge 4 ]] || it_fail "only $ok of 5 real clients were served during the flood"
it_ok "$ok of 5 real clients echoed 200 KB intact during a ${secs} s SYN flood"

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
evicted=$(it_counter tcp_synq_evicted)
[[ $sent -gt 0 ]] || it_fail "no SYN cookie was sent (passive opens $syns)"
# The real clients' half-open entries are evicted by the flood within
# microseconds, so their ACKs come back as cookies to validate.
[[ $(it_counter tcp_syncookies_recv) -gt 0 ]] || it_fail "no SYN cookie was validated"
it_ok "counters: SYN cookies sent $sent, validated $(it_counter tcp_syncookies_recv), half-open evicted $evicted, passive opens $syns"
it_end
