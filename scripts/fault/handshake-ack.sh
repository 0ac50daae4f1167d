#!/usr/bin/env bash
# handshake-ack.sh - the handshake's final ACK is blackholed.
#
# The kernel connects to the stack's sink; the injector drops every segment
# with ACK from the kernel to that port, so the stack's connection never
# leaves SYN-RECEIVED. Expected (RFC 9293 3.8.1 / RFC 6298 backoff): the
# SYN-ACK is retransmitted N times at 1, 2, 4 ... s intervals, then the
# stack gives up with a RST and keeps nothing (ustack-ss shows only the
# listener). Verified from a tshark capture on the TUN.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=9 RETRIES=${RETRIES:-3}
fault_begin "handshake-ack"
fault_start "rx:match=tcp.ack&dport:$PORT,action=drop" --tcp-sink "$PORT" \
  --synack-retries "$RETRIES"
fault_capture_start "tcp port $PORT"

# The kernel's side completes at once; keep nc around while the stack retries.
ns_bg timeout 60 nc "$US_ADDR" "$PORT" </dev/null
wait_s=$(( (1 << (RETRIES + 1)) + 3 ))  # 1+2+...+2^RETRIES, plus slack
sleep "$wait_s"
fault_capture_stop

mapfile -t synacks < <(fault_capture_times \
  "ip.src == $US_ADDR && tcp.flags.syn == 1 && tcp.flags.ack == 1")
rst=$(fault_capture_times "ip.src == $US_ADDR && tcp.flags.reset == 1" | head -n 1)
[[ ${#synacks[@]} -eq $((RETRIES + 1)) ]] ||
  fault_fail "expected $((RETRIES + 1)) SYN-ACKs (1 + $RETRIES retransmissions), saw ${#synacks[@]}"
# Intervals double from the initial RTO of 1 s (RFC 6298 2.1, 5.5): allow 20 %.
intervals=""
for ((i = 1; i < ${#synacks[@]}; i++)); do
  want=$((1 << (i - 1)))
  got=$(awk -v a="${synacks[i - 1]}" -v b="${synacks[i]}" 'BEGIN { printf "%.2f", b - a }')
  awk -v g="$got" -v w="$want" 'BEGIN { exit !(g > 0.8 * w && g < 1.2 * w + 0.1) }' ||
    fault_fail "SYN-ACK retransmission $i came after ${got}s, expected about ${want}s"
  intervals+="${got}s "
done
[[ -n $rst ]] || fault_fail "no RST from the stack after the last SYN-ACK"
awk -v r="$rst" -v l="${synacks[-1]}" 'BEGIN { exit !(r > l) }' ||
  fault_fail "the RST came before the last SYN-ACK"

left=$(ip netns exec "$NS" "$(dirname "$USTACKD")/../ustack-ss/ustack-ss" --ctl "$FAULT_CTL" 2>&1 |
  grep -v -e '^State' -e LISTEN | grep -c ":$PORT" || true)
[[ $left -eq 0 ]] || fault_fail "ustack-ss still shows $left connection(s) on port $PORT"
fault_stop
hits=$(fault_inj_counter rx rule_dropped)
fault_pass "SYN-ACK x$((RETRIES + 1)) at intervals ${intervals}then RST; $hits ACKs dropped; nothing left in ustack-ss"
