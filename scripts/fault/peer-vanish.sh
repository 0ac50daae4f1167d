#!/usr/bin/env bash
# peer-vanish.sh - the peer vanishes mid-transfer: from t=3 s every packet in
# both directions is blackholed. The stack must retransmit with exponential
# backoff (RFC 6298 5.5) and, after R2 retransmissions (--tcp-r2 6, RTO
# capped at 2 s so the scenario takes seconds, not the default minutes),
# abort the connection and report "connection timed out" to the
# application (RFC 9293 3.8.3, MUST-20/21). ustack-ss is sampled during the
# outage to show the backoff growing, and must be empty afterwards.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=19 R2=6
fault_begin "peer-vanishes"
fault_start "both:blackhole=3s-600s;tx:rate=8mbit,bucket=30kB,qlen=100" \
  --tcp-source "$PORT" --source-bytes 200000000 --tcp-r2 "$R2" --rto-max 2000
ns_bg timeout 60 nc -d "$US_ADDR" "$PORT" >/dev/null 2>&1

backoffs=()
aborted=""
for ((i = 0; i < 120; i++)); do # at most 60 s
  line=$(fault_ctl ss 2>/dev/null | grep -A1 "^ESTABLISHED .*10.0.0.2:$PORT " | tail -n 1 || true)
  b=$(sed -n 's/.*backoff:\([0-9]*\).*/\1/p' <<<"$line")
  [[ -n $b ]] && backoffs+=("$b")
  if grep -q "tcp-source: .*connection timed out" "$FAULT_LOG"; then
    aborted=$(grep "tcp-source: .*connection timed out" "$FAULT_LOG" | head -n 1)
    break
  fi
  sleep 0.5
done
[[ -n $aborted ]] || fault_fail "no 'connection timed out' within 60 s (backoffs seen: ${backoffs[*]})"
max=0
for b in "${backoffs[@]}"; do ((b > max)) && max=$b; done
[[ $max -ge 3 ]] || fault_fail "the RTO backoff never grew past $max (samples: ${backoffs[*]})"
left=$(fault_ctl ss | grep -v "^LISTEN" | grep -c "10.0.0.2:$PORT " || true)
[[ $left -eq 0 ]] || fault_fail "ustack-ss still shows the connection after the abort"
fault_stop
aborts=$(fault_counter tcp_abort_on_timeout)
[[ $aborts -ge 1 ]] || fault_fail "tcp_abort_on_timeout is $aborts"
fault_pass "aborted after R2=$R2 with ETIMEDOUT ('${aborted#ustackd: }'); backoff samples ${backoffs[*]}; tcp_abort_on_timeout $aborts; nothing left in ustack-ss"
