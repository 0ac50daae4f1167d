#!/usr/bin/env bash
# Slow clients cannot starve normal ones (docs/HTTPS.md, "Slow clients").
# A bounded slowhttptest runs against the HTTPS service while a normal
# curl loop (a fresh TLS connection per request, 5 s limit each) runs
# beside it; the loop must keep >= 99 % success.
#  0. 400 silent TCP connections (never a ClientHello) at 200/s, no
#     per-source limit: the handshake cap (half the slots) fills, and the
#     oldest silent connections are evicted for waiting ones.
#  1. Slowloris (-H), 500 connections at 200/s from the client's own
#     address, with --http-per-source 0 (no per-source limit): the header
#     deadline, shrunk under pressure, and eviction of the oldest slow
#     connection make room.
#  2. Slow read (-X, tiny windows, a 1 MB file requested twice per
#     connection): connections that are sending are never evicted, so
#     here the per-source limit is what keeps slots free; the curl loop
#     comes from a second address (10.0.0.3) of the namespace.
# Phase 0 is 15 s, the others 20 s; the service's counters must show the
# defences at work.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin http_slow
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/https_lib.sh"
for t in curl slowhttptest; do command -v $t >/dev/null || it_fail "$t not installed"; done
SECS=20
URL="https://$US_ADDR"

# curl_loop SECONDS [SOURCE]: one request after another; prints "ok total".
curl_loop() {
  local end=$((SECONDS + $1)) ok=0 n=0 c
  while ((SECONDS < end)); do
    n=$((n + 1))
    c=$(it_curl -o /dev/null -w '%{http_code}' --max-time 5 ${2:+--interface "$2"} "$URL/" \
      2>>"$IT_WORK/curl.err") || true
    if [[ $c == 200 ]]; then ok=$((ok + 1)); else echo "  request $n: '$c'" >>"$IT_WORK/curl.err"; fi
  done
  echo "$ok $n"
}

# check_loop PHASE "ok n": >= 99 % or fail.
check_loop() {
  local ok=${2% *} n=${2#* }
  [[ $n -ge 20 ]] || it_fail "$1: only $n requests in ${SECS}s"
  ((ok * 100 >= n * 99)) || it_fail "$1: $ok of $n normal requests succeeded (< 99 %): $(tail -n 5 "$IT_WORK/curl.err")"
  it_ok "$1: $ok of $n normal requests succeeded ($((ok * 1000 / n / 10)).$((ok * 1000 / n % 10)) %)"
}

slow_summary() { # the last status block of slowhttptest's output
  sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^(connected|closed|error|service available):' |
    tail -n 4 | tr -s ' ' | tr '\n' ' '
}

# 0. Silent connections.
https_start --http-per-source 0
ns_bg timeout 40 python3 "$IT_DIR/hold_conns.py" "$US_ADDR" 443 400 200 17 >"$IT_WORK/hold.out" 2>&1
sleep 2
res=$(curl_loop 13)
wait "${NS_PIDS[-1]}" 2>/dev/null || true
check_loop "400 silent connections" "$res"
echo "  $(cat "$IT_WORK/hold.out")"
it_stop
ev=$(it_counter http_evicted)
[[ $ev -ge 100 ]] || it_fail "silent connections: only $ev evicted"
it_ok "silent connections: $ev evicted for waiting ones, $(it_counter http_handshake_timeouts) handshake timeouts"

# 1. Slowloris.
https_start --http-per-source 0
ns_bg timeout $((SECS + 20)) slowhttptest -H -c 500 -r 200 -i 5 -x 24 -p 3 -l "$SECS" \
  -u "$URL/" >"$IT_WORK/slowloris.out" 2>&1
sleep 2
res=$(curl_loop $((SECS - 2)))
wait "${NS_PIDS[-1]}" 2>/dev/null || true
check_loop "slowloris, 500 connections" "$res"
echo "  slowhttptest: $(slow_summary "$IT_WORK/slowloris.out")"
it_stop
ht=$(it_counter http_header_timeouts) ev=$(it_counter http_evicted)
[[ $((ht + ev)) -ge 100 ]] || it_fail "slowloris: only $ht header timeouts and $ev evictions"
it_ok "slowloris: $ht header timeouts, $ev slow connections evicted for waiting ones"

# 2. Slow read, with the default per-source limit (half the slots).
head -c 1000000 /dev/urandom >"$IT_ROOT/big.bin"
https_start
ns_exec ip addr add 10.0.0.3/32 dev "$US_DEV" || it_fail "cannot add 10.0.0.3 to $US_DEV"
it_curl -o /dev/null --interface 10.0.0.3 "$URL/" || it_fail "curl from 10.0.0.3 failed"
ns_bg timeout $((SECS + 20)) slowhttptest -X -c 500 -r 200 -k 2 -n 2 -w 10 -y 20 -z 32 -p 3 \
  -l "$SECS" -u "$URL/big.bin" >"$IT_WORK/slowread.out" 2>&1
sleep 2
res=$(curl_loop $((SECS - 2)) 10.0.0.3)
wait "${NS_PIDS[-1]}" 2>/dev/null || true
check_loop "slow read, 500 connections" "$res"
echo "  slowhttptest: $(slow_summary "$IT_WORK/slowread.out")"
it_stop
rp=$(it_counter http_refused_per_source)
[[ $rp -ge 100 ]] || it_fail "slow read: only $rp connections refused by the per-source limit"
it_ok "slow read: $rp connections over the per-source limit refused"
it_end
