#!/usr/bin/env bash
# RSTs for segments without a connection are rate-limited (issue 10,
# docs/LIMITS.md): a bounded hping3 ACK flood at a closed port, with
# --rst-rate 100 --rst-burst 50. A capture on the kernel's side counts the
# RSTs the stack sent: at most the burst plus the rate for the time the
# flood lasted (with a second of slack), and the counters agree and show
# the rest suppressed. Afterwards a connect to the closed port is still
# refused at once (the bucket refills). Then the same over IPv6: an ACK
# flood from fd00::1 written into the TUN (tcp_flood6.py; hping3 has no
# IPv6) meets the same bucket.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin rst_limit
source "$IT_DIR/tcp_lib.sh"
command -v hping3 >/dev/null || it_fail "hping3 missing (apt-get install hping3)"
command -v tcpdump >/dev/null || it_fail "tcpdump missing (apt-get install tcpdump)"
rate=100 burst=50
it_start --tcp-echo 7 --rst-rate $rate --rst-burst $burst

ns_bg tcpdump -n -i "$US_DEV" -U -w "$IT_WORK/rst.pcap" "src host $US_ADDR and tcp[tcpflags] & tcp-rst != 0"
tdp=${NS_PIDS[-1]}
sleep 1 # tcpdump attaches
secs=${US_FLOOD_SECONDS:-3}
t0=$(date +%s.%N)
ns_exec timeout "$secs" hping3 --flood -A -p 9 -q "$US_ADDR" >/dev/null 2>&1 || true
t1=$(date +%s.%N)
sleep 0.5
kill -INT "$tdp" 2>/dev/null || true
wait "$tdp" 2>/dev/null || true
seen=$(tcpdump -n -r "$IT_WORK/rst.pcap" 2>/dev/null | wc -l)
max=$(awk -v a="$t0" -v b="$t1" -v r=$rate -v k=$burst 'BEGIN { printf "%d", k + r * (b - a + 1) }')
[[ $seen -gt 0 ]] || it_fail "no RST at all in the capture"
[[ $seen -le $max ]] || it_fail "$seen RSTs in $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') s, at most $max allowed"
it_ok "ACK flood at a closed port: $seen RSTs in the capture (bound $max for ${secs} s at $rate/s, burst $burst)"

out=$(it_peer --timeout 10 refused "$US_ADDR" 9) || it_fail "closed port after the flood: $out"
it_ok "after the flood: $out at once"

it_stop
sent=$(it_counter tcp_out_rsts)
lim=$(it_counter tcp_out_rsts_limited)
# The counter also has the refused connect's RST, and any the TUN queue
# dropped under the flood; both stay within the bound.
[[ $sent -ge $seen && $sent -le $((max + 1)) ]] || it_fail "tcp_out_rsts $sent, capture $seen, bound $max"
[[ $lim -gt $((sent * 10)) ]] || it_fail "only $lim RSTs suppressed against $sent sent"
it_ok "counters: tcp_out_rsts $sent, tcp_out_rsts_limited $lim"

if [[ ! -d /proc/sys/net/ipv6 ]]; then
  [[ ${CI:-} == true ]] && it_fail "the kernel has no IPv6 (CI=true: a test that cannot run fails)"
  it_end
  exit 0
fi
ns_enable_ipv6 || it_fail "cannot turn IPv6 on in the namespace"
it_start --tcp-echo 7 --rst-rate $rate --rst-burst $burst
ns_wait_addr6 || it_fail "no $US_HOST6 on $US_DEV"
# RSTs from the stack over IPv6 (no extension headers: flags at 40 + 13).
ns_bg tcpdump -n -i "$US_DEV" -U -w "$IT_WORK/rst6.pcap" "src host $US_ADDR6 and ip6[53] & 4 != 0"
tdp=${NS_PIDS[-1]}
sleep 1
t0=$(date +%s.%N)
ns_exec timeout $((secs + 5)) python3 "$IT_DIR/tcp_flood6.py" "$US_DEV" "$US_HOST6" "$US_ADDR6" 9 \
  "$secs" ack >/dev/null || it_fail "tcp_flood6.py failed"
t1=$(date +%s.%N)
sleep 0.5
kill -INT "$tdp" 2>/dev/null || true
wait "$tdp" 2>/dev/null || true
seen=$(tcpdump -n -r "$IT_WORK/rst6.pcap" 2>/dev/null | wc -l)
max=$(awk -v a="$t0" -v b="$t1" -v r=$rate -v k=$burst 'BEGIN { printf "%d", k + r * (b - a + 1) }')
[[ $seen -gt 0 ]] || it_fail "IPv6: no RST at all in the capture"
[[ $seen -le $max ]] || it_fail "IPv6: $seen RSTs in $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') s, at most $max allowed"
it_ok "IPv6 ACK flood at a closed port: $seen RSTs in the capture (bound $max)"
out=$(it_peer --timeout 10 refused "$US_ADDR6" 9) || it_fail "IPv6 closed port after the flood: $out"
it_ok "IPv6, after the flood: $out at once"
it_stop
sent=$(it_counter tcp_out_rsts)
lim=$(it_counter tcp_out_rsts_limited)
[[ $sent -ge $seen && $sent -le $((max + 1)) ]] || it_fail "IPv6: tcp_out_rsts $sent, capture $seen, bound $max"
[[ $lim -gt $((sent * 10)) ]] || it_fail "IPv6: only $lim RSTs suppressed against $sent sent"
it_ok "IPv6 counters: tcp_out_rsts $sent, tcp_out_rsts_limited $lim"
it_end
