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
secs=${US_FLOOD_SECONDS:-3}

# rst_round FAMILY ADDR FILTER FLOOD-CMD...: a daemon with the RST limit;
# tcpdump (FILTER: the stack's RSTs) captures while FLOOD-CMD sends ACKs at
# closed port 9 of ADDR for $secs seconds. The capture and the counters
# must stay within burst + rate x (time + 1 s), the rest suppressed, and a
# connect to the closed port afterwards is refused at once.
rst_round() {
  local fam=$1 addr=$2 filter=$3 tdp t0 t1 seen max sent lim out
  shift 3
  ns_bg tcpdump -n -i "$US_DEV" -U -w "$IT_WORK/rst-$fam.pcap" "$filter"
  tdp=${NS_PIDS[-1]}
  sleep 1 # tcpdump attaches
  t0=$(date +%s.%N)
  ns_exec "$@" >/dev/null 2>&1 || true # timeout's 124 ends a flood
  t1=$(date +%s.%N)
  sleep 0.5
  kill -INT "$tdp" 2>/dev/null || true
  wait "$tdp" 2>/dev/null || true
  seen=$(tcpdump -n -r "$IT_WORK/rst-$fam.pcap" 2>/dev/null | wc -l)
  max=$(awk -v a="$t0" -v b="$t1" -v r=$rate -v k=$burst 'BEGIN { printf "%d", k + r * (b - a + 1) }')
  [[ $seen -gt 0 ]] || it_fail "$fam: no RST at all in the capture"
  [[ $seen -le $max ]] ||
    it_fail "$fam: $seen RSTs in $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') s, at most $max allowed"
  it_ok "$fam ACK flood at a closed port: $seen RSTs in the capture (bound $max for ${secs} s at $rate/s, burst $burst)"

  out=$(it_peer --timeout 10 refused "$addr" 9) || it_fail "$fam: closed port after the flood: $out"
  it_ok "$fam, after the flood: $out at once"

  it_stop
  sent=$(it_counter tcp_out_rsts)
  lim=$(it_counter tcp_out_rsts_limited)
  # The counter also has the refused connect's RST, and any the TUN queue
  # dropped under the flood; both stay within the bound.
  [[ $sent -ge $seen && $sent -le $((max + 1)) ]] || it_fail "$fam: tcp_out_rsts $sent, capture $seen, bound $max"
  [[ $lim -gt $((sent * 10)) ]] || it_fail "$fam: only $lim RSTs suppressed against $sent sent"
  it_ok "$fam counters: tcp_out_rsts $sent, tcp_out_rsts_limited $lim"
}

it_start --tcp-echo 7 --rst-rate $rate --rst-burst $burst
rst_round IPv4 "$US_ADDR" "src host $US_ADDR and tcp[tcpflags] & tcp-rst != 0" \
  timeout "$secs" hping3 --flood -A -p 9 -q "$US_ADDR"

if [[ ! -d /proc/sys/net/ipv6 ]]; then
  [[ ${CI:-} == true ]] && it_fail "the kernel has no IPv6 (CI=true: a test that cannot run fails)"
  it_end
  exit 0
fi
ns_enable_ipv6 || it_fail "cannot turn IPv6 on in the namespace"
it_start --tcp-echo 7 --rst-rate $rate --rst-burst $burst
ns_wait_addr6 || it_fail "no $US_HOST6 on $US_DEV"
# RSTs from the stack over IPv6 (no extension headers: flags at 40 + 13).
rst_round IPv6 "$US_ADDR6" "src host $US_ADDR6 and ip6[53] & 4 != 0" \
  timeout $((secs + 5)) python3 "$IT_DIR/tcp_flood6.py" "$US_DEV" "$US_HOST6" "$US_ADDR6" 9 "$secs" ack
it_end
