#!/usr/bin/env bash
# blackhole-mid.sh - a 20 s blackhole in the middle of a transfer, then
# recovery: the upload completes with every byte intact.
#
# The link is rate-limited (8 Mbit/s) so that the 8 MB upload is still
# running when the blackhole starts 2 s after the first packet; both TCPs
# back off during the 20 s and must resume afterwards.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=9 BYTES=${BYTES:-8388608}
fault_begin "blackhole-20s"
fault_start "both:blackhole=2s-22s;both:rate=8mbit,bucket=30kB,qlen=100" --tcp-sink "$PORT"
fault_upload "$PORT" "$BYTES" 180
kretrans=$(fault_kernel_retrans)
fault_stop
bh=$(( $(fault_inj_counter tx blackholed) + $(fault_inj_counter rx blackholed) ))
[[ $bh -gt 0 ]] || fault_fail "the blackhole dropped nothing: the transfer ended before it"
retrans=$(fault_counter tcp_retrans_segs)
fault_pass "up $FAULT_UP_BYTES B sha256 match after $bh packets blackholed, retrans stack $retrans kernel $kretrans"
