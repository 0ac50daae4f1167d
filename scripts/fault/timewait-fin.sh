#!/usr/bin/env bash
# timewait-fin.sh - the ACK of the peer's FIN is lost while the stack is in
# TIME-WAIT: the peer retransmits its FIN and the stack must ACK it again
# (RFC 9293 3.10.7.4, TIME-WAIT: "acknowledge it, and restart the 2 MSL
# timeout").
#
# The stack's --tcp-source sends and closes first (so it ends in TIME-WAIT);
# the kernel reads to EOF and closes. The only pure ACK the stack sends on
# that connection is the one for the kernel's FIN (the kernel sends no
# data), and the injector drops the first one.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=19000 BYTES=65536
fault_begin "timewait-fin"
fault_start "tx:match=tcp.pureack&sport:$PORT,count=1,action=drop" --tcp-source "$PORT" \
  --source-bytes "$BYTES"
fault_capture_start "tcp port $PORT"
fault_download "$PORT" "$BYTES" 30
sleep 3 # the kernel's FIN retransmission (RTO >= 200 ms) and our second ACK
fault_capture_stop

mapfile -t fins < <(fault_capture_times "ip.src == $US_HOST && tcp.flags.fin == 1")
first_fin=${fins[0]:-0}
acks_after=$(fault_capture_times "ip.src == $US_ADDR && tcp.flags == 0x010 && tcp.len == 0" |
  awk -v f="$first_fin" '$1 > f { n++ } END { print n + 0 }')
[[ ${#fins[@]} -ge 2 ]] ||
  fault_fail "the kernel sent its FIN ${#fins[@]} time(s); expected a retransmission"
[[ $acks_after -ge 1 ]] || fault_fail "the stack never ACKed the retransmitted FIN"
fault_stop
dropped=$(fault_inj_counter tx rule_dropped)
[[ $dropped -eq 1 ]] || fault_fail "the injector dropped $dropped ACKs, expected 1"
fault_pass "down $FAULT_DOWN_BYTES B sha256 match; FIN sent ${#fins[@]} times, re-ACKed from TIME-WAIT"
